/**
 * Train/test splits of a single labelled set: `seeded` draws the test examples of each class with
 * a seeded permutation (stratified, so every class is in both splits when it has two examples);
 * `fixed` puts an example in the test split by a hash of its key (file path or row text), so an
 * example keeps its side when others are added or removed.
 */
import { Rng, seedFor } from '../util/rng';

export interface SplitSpec {
  split: 'seeded' | 'fixed';
  test_fraction: number;
  split_seed: number;
}

/** FNV-1a of a string, mapped to [0, 1). */
function unitHash(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

/** Indices of the train and test examples, each in the original order. */
export function splitIndices(
  labels: ArrayLike<number>,
  keys: readonly string[],
  spec: SplitSpec,
): { train: number[]; test: number[] } {
  const isTest = new Uint8Array(labels.length);
  if (spec.split === 'fixed') {
    for (let i = 0; i < keys.length; i++) isTest[i] = unitHash(keys[i]) < spec.test_fraction ? 1 : 0;
  } else {
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < labels.length; i++) byClass.set(labels[i], [...(byClass.get(labels[i]) ?? []), i]);
    for (const [c, idx] of byClass) {
      const perm = new Rng(seedFor(spec.split_seed, `split:${c}`)).permutation(idx.length);
      let k = Math.round(idx.length * spec.test_fraction);
      if (idx.length >= 2) k = Math.min(Math.max(k, 1), idx.length - 1);
      for (let j = 0; j < k; j++) isTest[idx[perm[j]]] = 1;
    }
  }
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < labels.length; i++) (isTest[i] ? test : train).push(i);
  return { train, test };
}
