/** Builds ψ from an experiment's `pretrained` list, in order, each source keeping its segment. */
import type { Dataset } from '../data/dataset';
import type { SourceSpec } from '../experiment/schema';
import { concatFeatures, type FeatureBlock, type PretrainedFeatures } from './features';
import { noiseFeatures } from './noise';
import { precomputedFeatures } from './precomputed';
import { ensureTeacher, teacherFeatures, type TeacherInfo } from './teacher';

export interface SourceHooks {
  signal?: AbortSignal;
  log(message: string): void;
  /** Progress of a one-time build (the built-in teacher). */
  onBuildProgress(label: string, step: number, total: number): void;
}

export interface BuiltSources {
  features: PretrainedFeatures;
  blocks: FeatureBlock[];
  teacher?: TeacherInfo;
}

export async function buildSources(specs: SourceSpec[], ds: Dataset, baseDir: string, noiseSeed: number, hooks: SourceHooks): Promise<BuiltSources> {
  const blocks: FeatureBlock[] = [];
  let teacher: TeacherInfo | undefined;
  for (const [i, s] of specs.entries()) {
    if ('builtin' in s) {
      teacher ??= await ensureTeacher((step, total) => hooks.onBuildProgress(`building ${s.builtin} (one time)`, step, total), hooks.signal, hooks.log);
      blocks.push(teacherFeatures(s.name, teacher.file, ds.inputShape, ds.train, ds.test, i));
    } else if ('noise' in s) {
      blocks.push(noiseFeatures(s.name, s.noise, ds.train.n, ds.test.n, noiseSeed));
    } else {
      blocks.push(precomputedFeatures(s.name, s.features, baseDir, ds.train.n, ds.test.n, i));
    }
  }
  return { features: concatFeatures(blocks, ds.train.n, ds.test.n), blocks, ...(teacher ? { teacher } : {}) };
}
