/**
 * Milliseconds per training step, as `npm run bench` and the GPU check (bench/gpuCheck.ts)
 * measure them: whole training jobs (trainJob, the product's loop) of n and of more steps, whose
 * difference removes the fixed costs (model set-up, the final evaluation). The models are the
 * demo MLP and the CNN at batch 128 on MNIST digits with ψ 512 noise features, and the image
 * students the check asks for where the engine has them.
 */
import * as os from 'node:os';
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import { downstreamSchema, trainSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import { loadMnist } from '../data/mnist';
import { noiseFeatures } from '../features/noise';
import { SharedMethodState } from '../methods/method';
import { trainJob } from '../train/job';
import type { Examples } from '../train/evaluate';
import { resnet18Folder, vitTinyFolder } from './students';
import { Rng } from '../util/rng';

export const STEP_METHODS: Record<'stl' | 'aft', ResolvedMethod> = {
  stl: { name: 'stl', kind: 'stl', kernel: 'linear', rho: 'sigmoid', priorSteps: 1 },
  aft: { name: 'aft', kind: 'aft', kernel: 'linear', rho: 'sigmoid', priorSteps: 1 },
};

/** Training examples, evaluation examples and ψ for step timings. */
export interface StepData {
  train: Examples;
  eval: Examples;
  psi: Float32Array;
  psiWidth: number;
  numClasses: number;
  /** Token-id inputs (a text student): the vocabulary its ids come from. */
  vocabSize?: number;
}

/** The bench's data: 1024 MNIST digits (128 to evaluate), ψ 512 noise features. */
export function mnistStepData(psiWidth = 512): StepData {
  const ds = loadMnist(1024, 128, 0);
  const psi = noiseFeatures('psi', psiWidth, ds.train.n, 0, 0);
  return {
    train: { ...ds.train, inputShape: ds.inputShape },
    eval: { ...ds.test, inputShape: ds.inputShape },
    psi: psi.train,
    psiWidth,
    numClasses: 10,
  };
}

/** Random images (normal values) of `inputShape`, `examples` of them, labels cycling through 10 classes. */
export function randomImageData(
  inputShape: number[],
  examples: number,
  evalExamples: number,
  psiWidth = 512,
): StepData {
  const rng = new Rng(1);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: examples * size }, () => rng.normal());
  const y = Int32Array.from({ length: examples }, (_, i) => i % 10);
  const psi = noiseFeatures('psi', psiWidth, examples, 0, 0);
  return {
    train: { n: examples, x, y, inputShape },
    eval: { n: evalExamples, x: x.subarray(0, evalExamples * size), y: y.subarray(0, evalExamples), inputShape },
    psi: psi.train,
    psiWidth,
    numClasses: 10,
  };
}

/**
 * Random token ids of sequences of `length` (the last eighth padded, -1), `examples` of them,
 * labels cycling through 10 classes: a text student's step data.
 */
export function randomTokenData(
  length: number,
  vocab: number,
  examples: number,
  evalExamples: number,
  psiWidth = 512,
): StepData {
  const rng = new Rng(1);
  const real = length - Math.floor(length / 8);
  const x = Float32Array.from({ length: examples * length }, (_, i) => (i % length < real ? rng.int(vocab) : -1));
  const y = Int32Array.from({ length: examples }, (_, i) => i % 10);
  const inputShape = [length];
  return {
    train: { n: examples, x, y, inputShape },
    eval: { n: evalExamples, x: x.subarray(0, evalExamples * length), y: y.subarray(0, evalExamples), inputShape },
    psi: noiseFeatures('psi', psiWidth, examples, 0, 0).train,
    psiWidth,
    numClasses: 10,
    vocabSize: vocab,
  };
}

/** The first `n` rows of some data (a one-step epoch at batch n). */
export function firstRows(d: StepData, n: number): StepData {
  const size = d.train.inputShape.reduce((a, b) => a * b, 1);
  return {
    ...d,
    train: { ...d.train, n, x: d.train.x.subarray(0, n * size), y: d.train.y.subarray(0, n) },
    psi: d.psi.subarray(0, n * d.psiWidth),
  };
}

/** One training job of `steps` steps (rounded up to whole epochs by the loop); its time and steps. */
export async function timeJob(
  spec: DownstreamSpec,
  method: ResolvedMethod,
  data: StepData,
  batch: number,
  steps: number,
  onStep?: (step: number) => void,
): Promise<{ seconds: number; steps: number }> {
  const r = await trainJob(
    {
      method,
      beta: method.kind === 'stl' ? 0 : 10,
      seed: 0,
      downstream: spec,
      train: trainSchema.parse({ steps, batch, eval_every: 1_000_000 }),
      numClasses: data.numClasses,
      trainData: data.train,
      psiTrain: data.psi,
      psiWidth: data.psiWidth,
      segments: [{ name: 'psi', offset: 0, width: data.psiWidth }],
      evalData: data.eval,
      shared: new SharedMethodState(),
      dataKey: 'bench',
      ...(data.vocabSize ? { inputs: { vocabSize: data.vocabSize } } : {}),
    },
    { onStep },
  );
  r.model.dispose();
  r.method.dispose();
  return { seconds: r.seconds, steps: r.steps };
}

/**
 * `npm run bench`'s figure: the median of each step's duration over one job (after a warm-up job
 * and the job's first steps), timed from the step hook. The median of single steps is what a
 * shared, loaded machine cannot sway: the earlier estimate, the difference between jobs of n and
 * 2n steps, was thrown by any pause in either job (PyTorch's MLP read 17 ms for 1.3 ms).
 * On the CPU backends a step has run when the hook fires; a GPU backend queues work, so the GPU
 * check times whole jobs (`budgetedMsPerStep`).
 */
export async function msPerStep(
  spec: DownstreamSpec,
  method: ResolvedMethod,
  data: StepData,
  batch: number,
  steps: number,
  warmupSteps = 8,
  clock: StepClock = 'wall',
): Promise<number> {
  // Kernels and XNNPACK operators are created on first use.
  if (warmupSteps > 0) await timeJob(spec, method, data, batch, warmupSteps);
  const times: number[] = [];
  let last = 0;
  const now = clock === 'wall' ? () => performance.now() : () => cpuMs();
  await timeJob(spec, method, data, batch, steps + 2, (step) => {
    const t = now();
    if (step > 2) times.push(t - last);
    last = t;
  });
  return median(times);
}

/**
 * `wall`: elapsed time. `cpu`: the process's CPU time (user + system), which other processes on
 * a busy machine do not add to: with one thread, a step's work however loaded the machine is
 * (with several, it sums the threads, their waiting included).
 */
export type StepClock = 'wall' | 'cpu';

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface BudgetedSteps {
  /** Median ms per step over the estimates. */
  ms: number;
  /** Each estimate (ms per step) and the steps it spans. */
  estimates: { ms: number; steps: number }[];
  /** A one-step job (set-up, one step, the final evaluation) the first time, shaders and kernels compiled in it. */
  first_job_ms?: number;
  /** The same one-step job again, compiled. */
  warm_job_ms?: number;
  /** first − warm: what compiling cost (shaders on WebGPU). */
  compile_ms?: number;
}

/**
 * Ms per step within about `budgetS` seconds: optionally a first and a second one-step job (their
 * difference is the compile time), then a one-epoch job on the full data (its evaluation's
 * shapes compiled too, outside the figures), then pairs of jobs of one epoch and of one epoch + n
 * steps, n sized so a pair takes about a third of the budget. Pairs go on while the next fits the
 * budget, up to five (a second one even past it when the first took under half); the median.
 */
export async function budgetedMsPerStep(
  spec: DownstreamSpec,
  method: ResolvedMethod,
  data: StepData,
  batch: number,
  budgetS: number,
  opts: { compile?: boolean; maxSteps?: number } = {},
): Promise<BudgetedSteps> {
  const start = performance.now();
  const elapsedS = (): number => (performance.now() - start) / 1000;
  const out: Partial<BudgetedSteps> = {};
  if (opts.compile) {
    const one = firstRows(data, batch);
    const first = await timeJob(spec, method, one, batch, 1);
    const warm = await timeJob(spec, method, one, batch, 1);
    out.first_job_ms = +(first.seconds * 1000).toFixed(1);
    out.warm_job_ms = +(warm.seconds * 1000).toFixed(1);
    out.compile_ms = +((first.seconds - warm.seconds) * 1000).toFixed(1);
  }
  const perEpoch = Math.ceil(data.train.n / Math.min(batch, data.train.n));
  const warmup = await timeJob(spec, method, data, batch, perEpoch);
  const stepS = warmup.seconds / warmup.steps; // an overestimate: it holds the fixed costs too
  const n = Math.min(
    opts.maxSteps ?? 400,
    Math.max(perEpoch, Math.round(Math.max(budgetS - elapsedS(), stepS) / 3 / stepS / perEpoch) * perEpoch),
  );
  const estimates: { ms: number; steps: number }[] = [];
  let pairS = 0;
  const more = (): boolean =>
    estimates.length === 0 ||
    (estimates.length < 5 && (elapsedS() + pairS <= budgetS || (estimates.length === 1 && pairS < budgetS / 2)));
  while (more()) {
    const t = performance.now();
    const a = await timeJob(spec, method, data, batch, perEpoch);
    const b = await timeJob(spec, method, data, batch, perEpoch + n);
    estimates.push({ ms: ((b.seconds - a.seconds) * 1000) / (b.steps - a.steps), steps: b.steps - a.steps });
    pairS = (performance.now() - t) / 1000;
  }
  const mid = median(estimates.map((e) => e.ms));
  return { ...out, ms: +mid.toFixed(3), estimates: estimates.map((e) => ({ ms: +e.ms.toFixed(3), steps: e.steps })) };
}

/** A model the step timings cover, and how to get its spec (or why the engine cannot train it). */
export interface StepModel {
  name: string;
  what: string;
  batch: number;
  inputShape: number[];
  /** The downstream spec, or why this engine has no such model. */
  prepare(): { spec: DownstreamSpec } | { skip: string };
  data(): StepData;
}

/** The downstream models the engine's schema offers (read from a refusal, so it follows the schema). */
function engineModels(): string {
  const r = downstreamSchema.safeParse({ model: '\u0000' });
  const issue = r.success ? undefined : (r.error.issues[0] as { values?: unknown[] } | undefined);
  return issue?.values?.join(', ') ?? '?';
}

function parsed(raw: Record<string, unknown>, missing: string): { spec: DownstreamSpec } | { skip: string } {
  const r = downstreamSchema.safeParse(raw);
  return r.success
    ? { spec: r.data }
    : { skip: `${missing} (downstream models here: ${engineModels()}; ${r.error.issues[0]?.message ?? 'refused'})` };
}

export const STEP_MODELS: StepModel[] = [
  {
    name: 'mlp',
    what: 'the demo MLP (784-128-64-10) on MNIST, batch 128, ψ 512',
    batch: 128,
    inputShape: [28, 28, 1],
    prepare: () => parsed({ model: 'mlp', hidden: [128, 64] }, 'no MLP'),
    data: () => mnistStepData(),
  },
  {
    name: 'cnn',
    what: 'the CNN (conv 16, conv 32, dense 64) on MNIST, batch 128, ψ 512',
    batch: 128,
    inputShape: [28, 28, 1],
    prepare: () => parsed({ model: 'cnn', channels: [16, 32], hidden: [64] }, 'no CNN'),
    data: () => mnistStepData(),
  },
  {
    name: 'resnet18',
    what: 'ResNet-18 (torchvision layout, fine-tuned whole, BatchNorm in train mode) on 64×64×3, batch 128, ψ 512',
    batch: 128,
    inputShape: [64, 64, 3],
    // A `model: pretrained` student (a timm hub folder); the folder is written only where the schema takes it.
    prepare: () => {
      const probe = parsed(
        { model: 'pretrained', folder: os.tmpdir() },
        'this engine has no ResNet-18 student (no `model: pretrained`)',
      );
      return 'skip' in probe
        ? probe
        : parsed({ model: 'pretrained', folder: resnet18Folder() }, 'the ResNet-18 folder was refused');
    },
    data: () => randomImageData([64, 64, 3], 256, 128),
  },
  {
    name: 'vit-tiny',
    what: 'ViT-Tiny (patch 16, width 192, depth 12, 3 heads) on 224×224×3, batch 64, ψ 512',
    batch: 64,
    inputShape: [224, 224, 3],
    prepare: () => parsed({ model: 'pretrained', folder: vitTinyFolder() }, 'the ViT-Tiny folder was refused'),
    data: () => randomImageData([224, 224, 3], 128, 64),
  },
];
