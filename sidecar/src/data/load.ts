import type { DatasetSpec } from '../experiment/schema';
import type { Dataset } from './dataset';
import { loadMnist } from './mnist';
import { loadNpyDataset } from './npyDataset';

/** Loads the dataset an experiment names, validated (shapes, labels, finite values). */
export function loadDataset(spec: DatasetSpec, baseDir: string): Dataset {
  switch (spec.source) {
    case 'mnist':
      return loadMnist(spec.train, spec.test, spec.split_seed);
    case 'npy':
      return loadNpyDataset(spec, baseDir);
  }
}

/** Seed that fixes per-example features such as noise (same for every method and seed). */
export function datasetSeed(spec: DatasetSpec): number {
  return spec.source === 'mnist' ? spec.split_seed : 0;
}
