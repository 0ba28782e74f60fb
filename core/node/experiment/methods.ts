/**
 * Methods as the engine runs them: each entry of `methods` resolved to a name, a kind and its
 * options, the kinds that need pre-trained sources, and each method's β grid.
 */
import type { Experiment, MethodKind } from './schema';

/** A method as the engine uses it: a display name, a kind and its options. */
export interface ResolvedMethod {
  name: string;
  kind: MethodKind;
  kernel: 'linear' | 'rbf';
  rho: 'sigmoid' | 'dense' | 'identity';
  /**
   * Updates of the method's learned prior (AFT's ρ, aft-no-kernel's map) per update of the
   * student: 1 is the usual joint step, k > 1 the bi-level variant (`prior_steps`).
   */
  priorSteps: number;
}

export function resolveMethods(exp: Pick<Experiment, 'methods'>): ResolvedMethod[] {
  return exp.methods.map((m) =>
    typeof m === 'string'
      ? { name: m, kind: m, kernel: 'linear', rho: 'sigmoid', priorSteps: 1 }
      : {
          name: m.name,
          kind: m.method,
          kernel: m.kernel ?? 'linear',
          rho: m.rho ?? 'sigmoid',
          priorSteps: m.prior_steps ?? 1,
        },
  );
}

/** Kinds that need at least one pre-trained source. */
export const NEEDS_PRETRAINED: ReadonlySet<MethodKind> = new Set(['kd', 'aft', 'aft-no-kernel', 'rkd', 'ft', 'btune']);

/** β grids used when the file gives none, per method kind. */
export const DEFAULT_BETA: Record<MethodKind, number[]> = {
  stl: [0],
  kd: [0.1, 1, 10],
  aft: [1, 10, 100],
  'aft-no-kernel': [0.1, 1, 10],
  rkd: [0.1, 1, 10],
  ft: [0.1, 1, 10],
  btune: [0.1, 1, 10],
};

/** The β grid of a method: from the file, else the default of its kind. */
export function betaGrid(exp: Pick<Experiment, 'beta'>, m: ResolvedMethod): number[] {
  if (m.kind === 'stl') return [0];
  const b = exp.beta[m.name];
  if (b === undefined) return DEFAULT_BETA[m.kind];
  return Array.isArray(b) ? b : [b];
}
