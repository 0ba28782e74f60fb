/**
 * Built-in pre-trained students, for trying the paper's setting (every method starts from a
 * pre-trained downstream model, so STL is fine-tuning) without bringing a checkpoint:
 * `mnist-resnet` is a small torchvision ResNet-18 (stem width 16, one input channel) pre-trained
 * with labels on a related but different task, telling apart five pairs of digits ({0,1}, {2,3},
 * …), on the 6,000 MNIST digits no downstream split uses (as the built-in teacher is). It is
 * built once, deterministically (fixed seeds and batch order), and cached in the user's cache
 * folder in timm's hub layout, so that it is an ordinary `model: pretrained` folder from there on.
 * The folder appears whole (filled under a temporary name, then renamed), and `aft-build.json`
 * records the sha256 of its files: a damaged one is built again, never loaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downstreamSchema, trainSchema } from '../../../core/node/experiment/schema';
import { removeQuietly, removeStaleTemps, tempName, writeFileAtomic } from '../../../core/node/util/fsx';
import { takeSplit } from '../data/dataset';
import { mnistTeacherSplit, MNIST_PIXELS, MNIST_SIDE } from '../data/mnist';
import { SharedMethodState } from '../methods/method';
import { trainJob } from '../train/job';
import { userCacheDir } from '../util/paths';
import { Rng } from '../util/rng';
import { readRecordedFile, sha256Hex } from '../util/recordedFiles';
import { encodeSafetensors } from '../../../core/node/io/safetensors';
import { CONFIG_FILE, hubFiles, isPretrainedStudent, WEIGHTS_FILE } from './pretrained';
import type { ResNetShape } from '../../../core/node/students/resnet';
import { initResNetState } from './resnet';

/** TEST-ONLY, shared with the built-in teacher: `AFT_TEACHER_STEPS=N` builds in N steps (under another name). */
const TEST_STEPS =
  Number(process.env.AFT_TEACHER_STEPS) > 0 ? Math.floor(Number(process.env.AFT_TEACHER_STEPS)) : undefined;

export const BUILTIN_STUDENTS = ['mnist-resnet'] as const;
export type BuiltinStudent = (typeof BUILTIN_STUDENTS)[number];

/** Bump when the recipe changes, so stale caches are rebuilt rather than reused. */
const VERSION = `mnist-resnet-v1${TEST_STEPS ? `-steps${TEST_STEPS}` : ''}`;
const SHAPE: ResNetShape = { arch: 'resnet18', width: 16, inChannels: 1, numClasses: 5 };
const RECIPE = trainSchema.parse({
  steps: TEST_STEPS ?? 800,
  batch: 64,
  lr: 1e-3,
  schedule: 'cosine',
  eval_every: 200,
});
const BUILD_FILE = 'aft-build.json';

/** The pre-training task: the digit's pair. */
const pairOf = (digit: number): number => Math.floor(digit / 2);

export interface BuiltStudent {
  folder: string;
  /** Accuracy on 600 held-out digits of the pre-training task. */
  validationAccuracy: number;
  builtNow: boolean;
}

interface BuildRecord {
  version: string;
  validationAccuracy: number;
  seconds: number;
  sha256: Record<string, string>;
}

export function builtinStudentFolder(name: BuiltinStudent): string {
  return path.join(userCacheDir(), 'students', name === 'mnist-resnet' ? VERSION : name);
}

/** The folder's build record when every file it lists is whole; otherwise why not (undefined: not built). */
function checkBuilt(folder: string): { record: BuildRecord } | { damaged: string } | undefined {
  const file = path.join(folder, BUILD_FILE);
  if (!fs.existsSync(folder)) return undefined;
  let record: BuildRecord;
  try {
    record = JSON.parse(fs.readFileSync(file, 'utf8')) as BuildRecord;
    if (typeof record.validationAccuracy !== 'number' || typeof record.sha256 !== 'object')
      throw new Error('not a build record');
  } catch (e) {
    return { damaged: `${file} cannot be read (${(e as Error).message.split('\n')[0]})` };
  }
  for (const [name, sha256] of Object.entries(record.sha256)) {
    const read = readRecordedFile(path.join(folder, name), { sha256 }, name, BUILD_FILE);
    if ('damaged' in read) return read;
  }
  return { record };
}

/**
 * The built-in student's folder, building it first if needed (or again when damaged).
 * `onProgress(step, total)` reports the build, which `signal` cancels.
 */
export async function ensureBuiltinStudent(
  name: BuiltinStudent,
  onProgress: (step: number, total: number) => void,
  signal?: AbortSignal,
  log: (m: string) => void = () => {},
): Promise<BuiltStudent> {
  const folder = builtinStudentFolder(name);
  fs.mkdirSync(path.dirname(folder), { recursive: true });
  removeStaleTemps(path.dirname(folder));
  const built = checkBuilt(folder);
  if (built && 'record' in built)
    return { folder, validationAccuracy: built.record.validationAccuracy, builtNow: false };
  if (built) {
    log(`the built-in student ${VERSION} is damaged (${built.damaged}); building it again`);
    removeQuietly(folder);
  }
  log(`building the built-in student ${VERSION} (one time; cached at ${folder})`);
  const staging = tempName(folder);
  try {
    // The untrained network, as a hub folder that the ordinary `model: pretrained` path loads.
    fs.mkdirSync(staging);
    const config = {
      architecture: SHAPE.arch,
      num_classes: SHAPE.numClasses,
      global_pool: 'avg',
      pretrained_cfg: {
        input_size: [1, MNIST_SIDE, MNIST_SIDE],
        num_classes: SHAPE.numClasses,
        first_conv: 'conv1',
        classifier: 'fc',
      },
      label_names: ['0 or 1', '2 or 3', '4 or 5', '6 or 7', '8 or 9'],
      aft_builtin: { name, version: VERSION, task: 'pairs of MNIST digits (⌊digit / 2⌋)' },
    };
    writeFileAtomic(path.join(staging, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
    writeFileAtomic(
      path.join(staging, WEIGHTS_FILE),
      encodeSafetensors(initResNetState(SHAPE, new Rng(11)), { format: 'pt' }),
    );
    const pool = mnistTeacherSplit();
    const pairs = { ...pool, y: Int32Array.from(pool.y, pairOf) };
    const order = new Rng(13).permutation(pool.n);
    const inputShape = [MNIST_SIDE, MNIST_SIDE, 1];
    const train = takeSplit(pairs, MNIST_PIXELS, order.subarray(600));
    const val = takeSplit(pairs, MNIST_PIXELS, order.subarray(0, 600));
    const result = await trainJob(
      {
        method: { name: 'stl', kind: 'stl', kernel: 'linear', rho: 'sigmoid', priorSteps: 1 },
        beta: 0,
        seed: 0,
        downstream: downstreamSchema.parse({ model: 'pretrained', folder: staging, head: 'keep' }),
        train: RECIPE,
        numClasses: SHAPE.numClasses,
        trainData: { ...train, inputShape },
        psiTrain: new Float32Array(),
        psiWidth: 0,
        segments: [],
        evalData: { ...val, inputShape },
        shared: new SharedMethodState(),
        dataKey: 'builtin-student',
      },
      { onStep: onProgress, ...(signal ? { signal } : {}) },
    );
    try {
      if (!isPretrainedStudent(result.model)) throw new Error('the built-in student is not a hub model');
      const files = await hubFiles(result.model, { aft_builtin: VERSION });
      const record: BuildRecord = {
        version: VERSION,
        validationAccuracy: result.evalAccuracy,
        seconds: result.seconds,
        sha256: {},
      };
      for (const [file, data] of Object.entries(files)) {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        writeFileAtomic(path.join(staging, file), bytes);
        record.sha256[file] = sha256Hex(bytes);
      }
      writeFileAtomic(path.join(staging, BUILD_FILE), JSON.stringify(record, null, 2) + '\n');
    } finally {
      result.model.dispose();
      result.method.dispose();
    }
    try {
      fs.renameSync(staging, folder);
    } catch (e) {
      // Another process built it at the same time: its folder is as good as this one.
      const other = checkBuilt(folder);
      if (!other || !('record' in other)) throw e;
      removeQuietly(staging);
    }
    log(
      `${VERSION}: validation accuracy ${(result.evalAccuracy * 100).toFixed(1)}% on its own task after ${result.seconds.toFixed(0)} s`,
    );
    return { folder, validationAccuracy: result.evalAccuracy, builtNow: true };
  } catch (e) {
    removeQuietly(staging);
    throw e;
  }
}
