/**
 * The built-in `mnist-teacher`: a wider MLP pre-trained, with labels, on the 6,000 MNIST digits
 * that no downstream split uses, standing in for a foundation model trained on a large related
 * corpus. Built once, deterministically (fixed seeds and batch order), and cached in the user's
 * cache folder; its features are the 256-wide input of its head.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mnistTeacherSplit, MNIST_PIXELS, MNIST_SIDE } from '../data/mnist';
import { downstreamSchema, trainSchema } from '../experiment/schema';
import { readSafetensors, encodeSafetensors } from '../io/safetensors';
import { createModel, modelWeights, type DownstreamModel } from '../models/model';
import { tf } from '../runtime/tf';
import { badInput } from '../util/errors';
import { writeFileAtomic } from '../util/fsx';
import { userCacheDir } from '../util/paths';
import { Rng } from '../util/rng';
import { takeSplit } from '../data/dataset';
import { trainJob } from '../train/job';
import type { FeatureBlock } from './features';
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

function loadTeacher(file: string): DownstreamModel {
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
  writeFileAtomic(file, encodeSafetensors(modelWeights(result.model), { version: TEACHER_VERSION }));
  writeFileAtomic(meta, JSON.stringify({ version: TEACHER_VERSION, validationAccuracy: result.evalAccuracy, seconds: result.seconds }, null, 2));
  result.model.dispose();
  result.method.dispose();
  log(`${TEACHER_VERSION}: validation accuracy ${(result.evalAccuracy * 100).toFixed(1)}% after ${result.seconds.toFixed(0)} s`);
  return { file, validationAccuracy: result.evalAccuracy, builtNow: true, seconds: result.seconds };
}

/** Teacher features (the head's input) for rows of 28x28 inputs. */
function features(model: DownstreamModel, x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * model.featureDim);
  for (let start = 0; start < n; start += 1024) {
    const m = Math.min(1024, n - start);
    const phi = tf.tidy(() => model.forward(tf.tensor(x.subarray(start * MNIST_PIXELS, (start + m) * MNIST_PIXELS), [m, ...INPUT_SHAPE])).phi.dataSync());
    out.set(phi, start * model.featureDim);
  }
  return out;
}

export function teacherFeatures(name: string, teacherFile: string, inputShape: number[], train: { n: number; x: Float32Array }, test: { n: number; x: Float32Array }, index: number): FeatureBlock {
  if (inputShape.reduce((a, b) => a * b, 1) !== MNIST_PIXELS) {
    throw badInput(`mnist-teacher needs 28x28 inputs; this dataset's inputs have shape [${inputShape.join(', ')}]`, { file: '<experiment>', field: `pretrained[${index}].builtin` });
  }
  const model = loadTeacher(teacherFile);
  try {
    return { name, kind: 'builtin', width: model.featureDim, train: features(model, train.x, train.n), test: features(model, test.x, test.n) };
  } finally {
    model.dispose();
  }
}
