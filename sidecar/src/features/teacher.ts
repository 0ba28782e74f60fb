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
import { readSafetensors, encodeSafetensors } from '../../../core/node/io/safetensors';
import type { DownstreamModel } from '../models/downstream';
import { createModel, modelWeights } from '../models/model';
import { tf } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import { writeFileAtomic } from '../../../core/node/util/fsx';
import { userCacheDir } from '../util/paths';
import { Rng } from '../util/rng';
import { takeSplit } from '../data/dataset';
import { trainJob } from '../train/job';
import { SharedMethodState } from '../methods/method';

/** Bump when the recipe changes, so stale caches are rebuilt rather than reused. */
export const TEACHER_VERSION = 'mnist-teacher-v1';
const ARCH = downstreamSchema.parse({ model: 'mlp', hidden: [512, 256] });
const RECIPE = trainSchema.parse({ steps: 1500, batch: 128, lr: 1e-3, schedule: 'cosine', eval_every: 250 });
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

/**
 * Returns the cached teacher, building it first if needed. `onProgress(step, total)` reports
 * the build; the build is cancellable through `signal`.
 */
export async function ensureTeacher(onProgress: (step: number, total: number) => void, signal?: AbortSignal, log: (m: string) => void = () => {}): Promise<TeacherInfo> {
  const file = teacherCacheFile();
  const meta = `${file}.json`;
  if (fs.existsSync(file) && fs.existsSync(meta)) {
    const info = JSON.parse(fs.readFileSync(meta, 'utf8')) as { validationAccuracy: number };
    return { file, validationAccuracy: info.validationAccuracy, builtNow: false, seconds: 0 };
  }
  log(`building ${TEACHER_VERSION} (one time; cached at ${file})`);
  const pool = mnistTeacherSplit();
  const order = new Rng(7).permutation(pool.n);
  const train = takeSplit(pool, MNIST_PIXELS, order.subarray(600));
  const val = takeSplit(pool, MNIST_PIXELS, order.subarray(0, 600));
  const result = await trainJob(
    {
      method: { name: 'stl', kind: 'stl', kernel: 'linear', rho: 'sigmoid' },
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
  // The metadata file is written last: a teacher without it is incomplete and is rebuilt.
  writeFileAtomic(file, encodeSafetensors(await modelWeights(result.model), { version: TEACHER_VERSION }));
  writeFileAtomic(meta, JSON.stringify({ version: TEACHER_VERSION, validationAccuracy: result.evalAccuracy, seconds: result.seconds }, null, 2));
  result.model.dispose();
  result.method.dispose();
  log(`${TEACHER_VERSION}: validation accuracy ${(result.evalAccuracy * 100).toFixed(1)}% after ${result.seconds.toFixed(0)} s`);
  return { file, validationAccuracy: result.evalAccuracy, builtNow: true, seconds: result.seconds };
}

/**
 * The teacher as an ONNX file (exported once next to its safetensors, named by the teacher and
 * exporter versions), so its features go through the same onnxruntime extraction and feature
 * cache as a user's model. Its `features` output is the head's input φ, 256 wide.
 */
export function ensureTeacherOnnx(info: TeacherInfo): string {
  const file = path.join(path.dirname(info.file), `${TEACHER_VERSION}.export-v${EXPORT_FORMAT_VERSION}.onnx`);
  if (fs.existsSync(file)) return file;
  const { tensors } = readSafetensors(info.file);
  const bytes = exportDownstream(tensors, { kind: 'mlp', inputShape: INPUT_SHAPE, channels: [], hidden: ARCH.hidden, numClasses: 10 }, { teacher: TEACHER_VERSION });
  writeFileAtomic(file, bytes);
  return file;
}

/** The extraction settings of the built-in teacher (what a user would write for an ONNX model). */
export function teacherOnnxSpec(file: string): OnnxSourceSpec {
  return { model: file, output: 'features', pooling: 'none', device: 'auto', batch: 256, threads: 0 };
}

/** Refuses datasets whose examples are not 784 values (28x28 digits). */
export function checkTeacherInput(inputShape: number[], index: number): void {
  if (inputShape.reduce((a, b) => a * b, 1) !== MNIST_PIXELS) {
    throw badInput(`mnist-teacher needs 28x28 inputs; this dataset's inputs have shape [${inputShape.join(', ')}]`, { file: '<experiment>', field: `pretrained[${index}].builtin` });
  }
}
