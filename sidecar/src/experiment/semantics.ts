/**
 * Checks that need the whole experiment (or the file system) rather than one field: names used
 * twice, methods that need sources the file lacks, β entries for unknown methods, missing files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Experiment, MethodKind } from './schema';

export interface SemanticProblem {
  path: (string | number)[];
  key?: string;
  message: string;
  severity?: 'error' | 'warning';
}

/** A method as the engine uses it: a display name, a kind and its options. */
export interface ResolvedMethod {
  name: string;
  kind: MethodKind;
  kernel: 'linear' | 'rbf';
  rho: 'sigmoid' | 'dense' | 'identity';
}

export function resolveMethods(exp: Pick<Experiment, 'methods'>): ResolvedMethod[] {
  return exp.methods.map((m) =>
    typeof m === 'string'
      ? { name: m, kind: m, kernel: 'linear', rho: 'sigmoid' }
      : { name: m.name, kind: m.method, kernel: m.kernel ?? 'linear', rho: m.rho ?? 'sigmoid' },
  );
}

/** Kinds that need at least one pre-trained source. */
export const NEEDS_PRETRAINED: ReadonlySet<MethodKind> = new Set(['kd', 'aft', 'aft-no-kernel']);

/** β grids used when the file gives none, per method kind. */
export const DEFAULT_BETA: Record<MethodKind, number[]> = {
  stl: [0],
  kd: [0.1, 1, 10],
  aft: [1, 10, 100],
  'aft-no-kernel': [0.1, 1, 10],
};

/** The β grid of a method: from the file, else the default of its kind. */
export function betaGrid(exp: Pick<Experiment, 'beta'>, m: ResolvedMethod): number[] {
  if (m.kind === 'stl') return [0];
  const b = exp.beta[m.name];
  if (b === undefined) return DEFAULT_BETA[m.kind];
  return Array.isArray(b) ? b : [b];
}

/** Paths in the experiment that must exist, with where they are in the file. */
export function referencedPaths(exp: Experiment): { path: (string | number)[]; file: string }[] {
  const out: { path: (string | number)[]; file: string }[] = [];
  const ds = exp.dataset;
  if (ds.source === 'npy') {
    for (const split of ['train', 'test'] as const) {
      out.push({ path: ['dataset', split, 'inputs'], file: ds[split].inputs });
      out.push({ path: ['dataset', split, 'labels'], file: ds[split].labels });
    }
  }
  exp.pretrained.forEach((s, i) => {
    if ('features' in s) {
      out.push({ path: ['pretrained', i, 'features', 'train'], file: s.features.train });
      out.push({ path: ['pretrained', i, 'features', 'test'], file: s.features.test });
    }
  });
  if (exp.downstream.init !== 'random') out.push({ path: ['downstream', 'init'], file: exp.downstream.init });
  return out;
}

export function semanticProblems(exp: Experiment, baseDir?: string): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const seenSources = new Map<string, number>();
  exp.pretrained.forEach((s, i) => {
    const first = seenSources.get(s.name);
    if (first !== undefined) {
      problems.push({ path: ['pretrained', i, 'name'], message: `source name \`${s.name}\` is already used by pretrained[${first}]` });
    } else seenSources.set(s.name, i);
  });
  const methods = resolveMethods(exp);
  const seenMethods = new Map<string, number>();
  methods.forEach((m, i) => {
    const first = seenMethods.get(m.name);
    if (first !== undefined) {
      problems.push({ path: ['methods', i], message: `method \`${m.name}\` is listed twice (also methods[${first}]); give the second a different \`name\`` });
    } else seenMethods.set(m.name, i);
    if (NEEDS_PRETRAINED.has(m.kind) && exp.pretrained.length === 0) {
      problems.push({ path: ['methods', i], message: `method \`${m.name}\` (${m.kind}) needs at least one entry under \`pretrained\`` });
    }
  });
  for (const key of Object.keys(exp.beta)) {
    const m = methods.find((x) => x.name === key);
    if (!m) {
      problems.push({ path: ['beta'], key, message: `β given for \`${key}\`, which is not in \`methods\` (${methods.map((x) => x.name).join(', ')})`, severity: 'warning' });
    } else if (m.kind === 'stl') {
      problems.push({ path: ['beta'], key, message: '`stl` has no regulariser, so its β is ignored', severity: 'warning' });
    }
  }
  if (exp.dataset.source === 'mnist') {
    const ds = exp.dataset;
    if (ds.train + ds.test > 4000) {
      problems.push({ path: ['dataset', 'test'], message: `train + test = ${ds.train + ds.test}, but only 4000 MNIST digits are not reserved for the teacher` });
    }
    const tuneTrain = Math.floor(ds.train * (1 - exp.tune.holdout));
    if (exp.train.batch > tuneTrain) {
      problems.push({ path: ['train', 'batch'], message: `batch ${exp.train.batch} is larger than the ${tuneTrain} examples left for training while β is tuned (train ${ds.train} minus the ${Math.round(exp.tune.holdout * 100)}% holdout)` });
    }
  }
  if (baseDir !== undefined) {
    for (const ref of referencedPaths(exp)) {
      const abs = path.resolve(baseDir, ref.file);
      if (!fs.existsSync(abs)) problems.push({ path: ref.path, message: `file not found: ${abs}` });
    }
  }
  return problems;
}
