/** Builds ψ from an experiment's `pretrained` list, in order, each source keeping its segment. */
import type { Dataset } from '../data/dataset';
import type { SourceSpec } from '../../../core/node/experiment/schema';
import { concatFeatures, type FeatureBlock, type PretrainedFeatures } from './features';
import { noiseFeatures } from './noise';
import { productFeatures } from './product';
import { extractOnnx, type ExtractProgress, type OnnxSourceRef } from './onnxSource';
import { precomputedFeatures } from './precomputed';
import { OnnxSessionPool } from '../runtime/onnx';
import { checkTeacherInput, ensureTeacher, ensureTeacherOnnx, teacherOnnxSpec, type TeacherInfo } from './teacher';

export interface SourceHooks {
  signal?: AbortSignal;
  log: (message: string) => void;
  /** Progress of a one-time build (the built-in teacher). */
  onBuildProgress: (label: string, step: number, total: number) => void;
  /** Where extracted features are cached (`<workspace>/.aft/cache/features`). */
  cacheRoot: string;
  onExtractProgress?: (p: ExtractProgress) => void;
}

export interface BuiltSources {
  features: PretrainedFeatures;
  blocks: FeatureBlock[];
  teacher?: TeacherInfo;
}

/** The ONNX sources of a list (user models and the built-in teacher), ready for extraction. */
export async function onnxSourceRefs(
  specs: SourceSpec[],
  ds: Pick<Dataset, 'inputShape' | 'paired'>,
  baseDir: string,
  hooks: Pick<SourceHooks, 'signal' | 'log' | 'onBuildProgress'>,
): Promise<{ refs: OnnxSourceRef[]; teacher?: TeacherInfo }> {
  const refs: OnnxSourceRef[] = [];
  let teacher: TeacherInfo | undefined;
  for (const [i, s] of specs.entries()) {
    if ('builtin' in s) {
      // Of a paired dataset it reads the image half, as the image tower does.
      checkTeacherInput(ds.paired ? ds.paired.layout.image : ds.inputShape, i);
      teacher ??= await ensureTeacher(
        (step, total) => hooks.onBuildProgress(`building ${s.builtin} (one time)`, step, total),
        hooks.signal,
        hooks.log,
      );
      refs.push({
        name: s.name,
        index: i,
        spec: teacherOnnxSpec(ensureTeacherOnnx(teacher)),
        baseDir,
        kind: 'builtin',
      });
    } else if ('onnx' in s) {
      refs.push({ name: s.name, index: i, spec: s.onnx, baseDir, kind: 'onnx' });
    }
  }
  return { refs, ...(teacher ? { teacher } : {}) };
}

export async function buildSources(
  specs: SourceSpec[],
  ds: Dataset,
  baseDir: string,
  noiseSeed: number,
  hooks: SourceHooks,
): Promise<BuiltSources> {
  // A product's slot stays empty until both of its sources are built (wherever they are listed).
  const blocks: (FeatureBlock | undefined)[] = [];
  const { refs, teacher } = await onnxSourceRefs(specs, ds, baseDir, hooks);
  const sessions = new OnnxSessionPool();
  try {
    for (const [i, s] of specs.entries()) {
      if ('product' in s) {
        blocks.push(undefined);
      } else if ('noise' in s) {
        blocks.push(noiseFeatures(s.name, s.noise, ds.train.n, ds.test.n, noiseSeed));
      } else if ('features' in s) {
        blocks.push(precomputedFeatures(s.name, s.features, baseDir, ds.train.n, ds.test.n, i));
      } else {
        const ref = refs.find((r) => r.index === i)!;
        const out = await extractOnnx(ref, ds, {
          cacheRoot: hooks.cacheRoot,
          log: hooks.log,
          sessions,
          ...(hooks.signal ? { signal: hooks.signal } : {}),
          ...(hooks.onExtractProgress ? { onProgress: hooks.onExtractProgress } : {}),
        });
        if (out.cached) hooks.log(`${ref.name}: features from the cache (${out.dir})`);
        blocks.push(out.block);
      }
    }
  } finally {
    await sessions.releaseAll();
  }
  const byName = new Map(blocks.flatMap((b) => (b ? [[b.name, b] as const] : [])));
  const all = specs.map((s, i) => {
    if (!('product' in s)) return blocks[i]!;
    const [a, b] = s.product.map((n) => byName.get(n));
    // The experiment's checks (semantics.ts) make both exist and neither a product.
    if (!a || !b) throw new Error(`internal error: product ${s.name} of unknown sources ${s.product.join(', ')}`);
    return productFeatures(s.name, a, b, i);
  });
  return { features: concatFeatures(all, ds.train.n, ds.test.n), blocks: all, ...(teacher ? { teacher } : {}) };
}
