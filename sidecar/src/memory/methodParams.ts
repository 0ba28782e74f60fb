/**
 * The parameters each transfer method adds to a job, as methods/registry.ts creates them (its
 * test checks these counts against the methods built): `trained` with the student, `frozen`
 * held but not trained (factor transfer's autoencoders).
 */
import type { ResolvedMethod } from '../../../core/node/experiment/methods';

export interface MethodParams {
  trained: number;
  frozen: number;
}

/** An MLP of createMlp's widths: weights and biases. */
const mlp = (widths: number[]): number => widths.slice(1).reduce((n, w, i) => n + widths[i] * w + w, 0);

/** `featureDim`: φ's width d; `psiWidth`: ψ's width D (0 without sources); `segments`: each source's width. */
export function methodParams(
  method: Pick<ResolvedMethod, 'kind' | 'rho'>,
  featureDim: number,
  psiWidth: number,
  segments: number[] = psiWidth ? [psiWidth] : [],
): MethodParams {
  const d = featureDim;
  const D = psiWidth;
  switch (method.kind) {
    case 'stl':
    case 'rkd':
    case 'btune':
      return { trained: 0, frozen: 0 };
    case 'kd':
      return { trained: D * d + D, frozen: 0 };
    case 'aft':
      return method.rho === 'dense'
        ? { trained: D * D, frozen: D }
        : method.rho === 'identity'
          ? { trained: 0, frozen: D }
          : { trained: D, frozen: 0 };
    case 'aft-no-kernel':
      return { trained: d * D + d, frozen: 0 };
    case 'ft': {
      const factors = segments.map((w) => Math.floor(w / 2));
      const f = factors.reduce((a, b) => a + b, 0);
      const autoencoders = segments.reduce(
        (n, w, i) => n + mlp([w, w, factors[i], factors[i]]) + mlp([factors[i], factors[i], w, w]),
        0,
      );
      return { trained: mlp([d, d, f, f]), frozen: autoencoders };
    }
  }
}
