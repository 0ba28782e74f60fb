/**
 * The built-in `mnist-teacher`: a wider MLP pre-trained, with labels, on the 6,000 MNIST digits
 * that no downstream split uses, standing in for a foundation model trained on a large related
 * corpus. Built once, deterministically (fixed seeds and batch order), and cached in the user's
 * cache folder; its features are the 256-wide input of its head.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mnistTeacherSplit, MNIST_PIXELS, MNIST_SIDE } from '../data/mnist';
import { downstreamSchema, trainSchema, type OnnxSourceSpec } from '../../../core/node/experiment/schema';
import { exportDownstream, EXPORT_FORMAT_VERSION } from '../export/downstream';
import { readSafetensors, readSafetensorsBytes, encodeSafetensors } from '../../../core/node/io/safetensors';
import type { DownstreamModel } from '../models/downstream';
import { createModel, modelWeights } from '../models/model';
import { tf } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import { removeQuietly, removeStaleTemps, writeFileAtomic } from '../../../core/node/util/fsx';
import { userCacheDir } from '../util/paths';
import { readRecordedFile, sha256Hex } from '../util/recordedFiles';
import { Rng } from '../util/rng';
import { takeSplit } from '../data/dataset';
import { trainJob } from '../train/job';
import { SharedMethodState } from '../methods/method';

/**
 * TEST-ONLY: `AFT_TEACHER_STEPS=N` builds the teacher in N steps on 128·N digits instead of 1,500
 * steps on 5,400 (the fault tests build it many times), under its own name (`…-steps<N>`), so
 * such a teacher is never taken for the real one. Unset in normal use.
 */
const TEST_STEPS =
  Number(process.env.AFT_TEACHER_STEPS) > 0 ? Math.floor(Number(process.env.AFT_TEACHER_STEPS)) : undefined;
/** Bump when the recipe changes, so stale caches are rebuilt rather than reused. */
export const TEACHER_VERSION = `mnist-teacher-v1${TEST_STEPS ? `-steps${TEST_STEPS}` : ''}`;
const ARCH = downstreamSchema.parse({ model: 'mlp', hidden: [512, 256] });
const RECIPE = trainSchema.parse({
  steps: TEST_STEPS ?? 1500,
  batch: 128,
  lr: 1e-3,
  schedule: 'cosine',
  eval_every: 250,
});
const INPUT_SHAPE = [MNIST_SIDE, MNIST_SIDE, 1];

export interface TeacherInfo {
  file: string;
  /** Accuracy on 600 held-out digits of the teacher's own pool. */
  validationAccuracy: number;
  builtNow: boolean;
  seconds: number;
}

export function teacherCacheFile(): string {
  return path.join(userCacheDir(), 'teachers', `${TEACHER_VERSION}.safetensors`);
}

/** The cached teacher as a tfjs model (the reference its ONNX export is checked against). */
export function loadTeacher(file: string): DownstreamModel {
  const model = createModel(ARCH, INPUT_SHAPE, 10, 0);
  const { tensors } = readSafetensors(file);
  for (const [k, v] of model.params) {
    const t = tensors[k];
    if (!t) throw new Error(`cached teacher ${file} lacks ${k}`);
    v.assign(tf.tensor(t.data, v.shape));
  }
  return model;
}

/** What the teacher's metadata file (`<teacher>.safetensors.json`, written last) records. */
interface TeacherMeta {
  version: string;
  validationAccuracy: number;
  seconds: number;
  /** Size and sha256 of the safetensors file (absent in older caches, which are then parsed instead). */
  bytes?: number;
  sha256?: string;
}

/**
 * The cached teacher's metadata when the cache is whole: the metadata parses, and the safetensors
 * file has the size and sha256 it records. Otherwise why not (undefined when there is no cache).
 */
function checkTeacherCache(file: string, metaFile: string): { meta: TeacherMeta } | { damaged: string } | undefined {
  if (!fs.existsSync(metaFile)) return undefined;
  let meta: TeacherMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as TeacherMeta;
    if (typeof meta.validationAccuracy !== 'number') throw new Error('no validationAccuracy');
  } catch (e) {
    return { damaged: `${metaFile} cannot be read (${(e as Error).message.split('\n')[0]})` };
  }
  const read = readRecordedFile(file, meta, file, 'its metadata');
  if ('damaged' in read) return read;
  const { bytes } = read;
  try {
    readSafetensorsBytes(bytes, file);
  } catch (e) {
    return { damaged: (e as Error).message };
  }
  return { meta };
}

/**
 * Returns the cached teacher, building it first if needed (or again, when the cache is damaged:
 * sizes and sha256 are checked on every use). `onProgress(step, total)` reports the build; the
 * build is cancellable through `signal`.
 */
export async function ensureTeacher(
  onProgress: (step: number, total: number) => void,
  signal?: AbortSignal,
  log: (m: string) => void = () => {},
): Promise<TeacherInfo> {
  const file = teacherCacheFile();
  const meta = `${file}.json`;
  removeStaleTemps(path.dirname(file));
  const cached = checkTeacherCache(file, meta);
  if (cached && 'meta' in cached)
    return { file, validationAccuracy: cached.meta.validationAccuracy, builtNow: false, seconds: 0 };
  if (cached) {
    log(`the cached ${TEACHER_VERSION} is damaged (${cached.damaged}); building it again`);
    removeQuietly(meta);
    removeQuietly(file);
  }
  log(`building ${TEACHER_VERSION} (one time; cached at ${file})`);
  const pool = mnistTeacherSplit();
  const order = new Rng(7).permutation(pool.n);
  const train = takeSplit(
    pool,
    MNIST_PIXELS,
    TEST_STEPS ? order.subarray(600, Math.min(pool.n, 600 + 128 * TEST_STEPS)) : order.subarray(600),
  );
  const val = takeSplit(pool, MNIST_PIXELS, order.subarray(0, 600));
  const result = await trainJob(
    {
      method: { name: 'stl', kind: 'stl', kernel: 'linear', rho: 'sigmoid', priorSteps: 1 },
      beta: 0,
      seed: 0,
      downstream: ARCH,
      train: RECIPE,
      numClasses: 10,
      trainData: { ...train, inputShape: INPUT_SHAPE },
      psiTrain: new Float32Array(),
      psiWidth: 0,
      segments: [],
      evalData: { ...val, inputShape: INPUT_SHAPE },
      shared: new SharedMethodState(),
      dataKey: 'teacher',
    },
    { onStep: onProgress, ...(signal ? { signal } : {}) },
  );
  const bytes = encodeSafetensors(await modelWeights(result.model), { version: TEACHER_VERSION });
  result.model.dispose();
  result.method.dispose();
  // The metadata file is written last: a teacher without it is incomplete and is rebuilt.
  writeFileAtomic(file, bytes);
  const info: TeacherMeta = {
    version: TEACHER_VERSION,
    validationAccuracy: result.evalAccuracy,
    seconds: result.seconds,
    bytes: bytes.length,
    sha256: sha256Hex(bytes),
  };
  writeFileAtomic(meta, JSON.stringify(info, null, 2));
  log(
    `${TEACHER_VERSION}: validation accuracy ${(result.evalAccuracy * 100).toFixed(1)}% after ${result.seconds.toFixed(0)} s`,
  );
  return { file, validationAccuracy: result.evalAccuracy, builtNow: true, seconds: result.seconds };
}

/**
 * The teacher as an ONNX file (exported once next to its safetensors, named by the teacher and
 * exporter versions), so its features go through the same onnxruntime extraction and feature
 * cache as a user's model. Its `features` output is the head's input φ, 256 wide.
 */
export function ensureTeacherOnnx(info: TeacherInfo): string {
  const file = path.join(path.dirname(info.file), `${TEACHER_VERSION}.export-v${EXPORT_FORMAT_VERSION}.onnx`);
  const { tensors } = readSafetensors(info.file);
  // Exporting takes milliseconds: the file is compared with a fresh export, and rewritten unless
  // it is exactly that (so a damaged or stale export is never fed to onnxruntime).
  const bytes = exportDownstream(
    tensors,
    { kind: 'mlp', inputShape: INPUT_SHAPE, channels: [], hidden: ARCH.hidden, numClasses: 10 },
    { teacher: TEACHER_VERSION },
  );
  let same = false;
  try {
    same = fs.readFileSync(file).equals(bytes);
  } catch {
    // not there yet
  }
  if (!same) writeFileAtomic(file, bytes);
  return file;
}

/** The extraction settings of the built-in teacher (what a user would write for an ONNX model). */
export function teacherOnnxSpec(file: string): OnnxSourceSpec {
  return { model: file, output: 'features', pooling: 'none', device: 'auto', batch: 256, threads: 0 };
}

/** Refuses datasets whose examples are not 784 values (28x28 digits). */
export function checkTeacherInput(inputShape: number[], index: number): void {
  if (inputShape.reduce((a, b) => a * b, 1) !== MNIST_PIXELS) {
    throw badInput(`mnist-teacher needs 28x28 inputs; this dataset's inputs have shape [${inputShape.join(', ')}]`, {
      file: '<experiment>',
      field: `pretrained[${index}].builtin`,
    });
  }
}
