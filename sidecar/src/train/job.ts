/**
 * One training job: one downstream model, one method, one β, one seed. The loop is the same
 * for every method; a method only contributes its parameters and its regulariser.
 */
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import type { DownstreamSpec, TrainSpec } from '../../../core/node/experiment/schema';
import { summariseBySegment } from '../features/features';
import type { SharedMethodState, TransferMethod } from '../methods/method';
import { createMethod } from '../methods/registry';
import { crossEntropy } from '../methods/regularizers';
import { loadCheckpoint } from '../models/checkpoint';
import type { DownstreamModel } from '../models/downstream';
import { createModel, type ModelInputs } from '../models/model';
import type { EvalNumbers, RhoBySource, Segment } from '../../../core/common/protocol/events';
import { yieldToEventLoop } from '../util/async';
import { releaseBackendMemory, tf, type Scalar, type Variable } from '../runtime/tf';
import { AftError, CancelledError } from '../../../core/common/util/errors';
import { Rng, seedFor } from '../util/rng';
import { accuracy, featuresOf, type Examples } from './evaluate';
import { Optimizer, scheduleFactor } from './optimizer';

export interface JobSpec {
  method: ResolvedMethod;
  beta: number;
  seed: number;
  downstream: DownstreamSpec;
  /** Absolute path of a checkpoint to start from, or undefined for random init. */
  initCheckpoint?: string;
  train: TrainSpec;
  numClasses: number;
  /** What the model needs of the data: the vocabulary of token ids, a paired row layout. */
  inputs?: ModelInputs;
  trainData: Examples;
  /** ψ rows aligned with trainData (width psiWidth); empty when there are no sources. */
  psiTrain: Float32Array;
  psiWidth: number;
  segments: Segment[];
  evalData: Examples;
  /** State shared by the jobs of a run that train on the same data (`dataKey`). */
  shared: SharedMethodState;
  dataKey: string;
}

export interface EvalPoint extends EvalNumbers {
  rho?: Float32Array;
  rhoBySource?: RhoBySource;
}

export interface JobHooks {
  signal?: AbortSignal;
  onStep?(step: number, total: number): void;
  onEval?(p: EvalPoint): void;
  /** Messages from the method (a source it leaves out, say). */
  log?(message: string, level?: 'info' | 'warn'): void;
}

export interface JobResult {
  evalAccuracy: number;
  steps: number;
  seconds: number;
  rho?: Float32Array;
  model: DownstreamModel;
  method: TransferMethod;
}

/** Steps rounded up to whole epochs. */
export function plannedSteps(n: number, batch: number, steps: number): { total: number; perEpoch: number } {
  const perEpoch = Math.ceil(n / Math.min(batch, n));
  return { total: Math.ceil(steps / perEpoch) * perEpoch, perEpoch };
}

/** Copies the rows `idx[from..to)` of a row-major matrix into `out`. */
function gather(src: Float32Array, width: number, idx: Int32Array, from: number, to: number): Float32Array {
  const out = new Float32Array((to - from) * width);
  for (let i = from; i < to; i++) out.set(src.subarray(idx[i] * width, (idx[i] + 1) * width), (i - from) * width);
  return out;
}

/**
 * How long the training loop keeps the event loop between yields. The sidecar answers requests
 * (a cancel, aft/listRuns) only between them, and each run training at once adds its slice to the
 * wait: at 100 ms, aft/listRuns took ~0.6 s while two runs trained (npm run bench:runs). A yield
 * (setImmediate) costs microseconds.
 */
const YIELD_EVERY_MS = 20;

/**
 * Trains one job. The caller owns (and must dispose) the returned model and method. The loop
 * yields to the event loop at least every YIELD_EVERY_MS so that a cancel arrives within one step.
 */
export async function trainJob(spec: JobSpec, hooks: JobHooks = {}): Promise<JobResult> {
  const started = performance.now();
  const { trainData: data, train: cfg } = spec;
  const model = createModel(
    spec.downstream,
    data.inputShape,
    spec.numClasses,
    seedFor(spec.seed, 'init'),
    spec.inputs,
    (m) => hooks.log?.(m),
  );
  if (spec.initCheckpoint) loadCheckpoint(model, spec.initCheckpoint);
  const method = await createMethod({
    method: spec.method,
    featureDim: model.featureDim,
    psiDim: spec.psiWidth,
    rng: new Rng(seedFor(spec.seed, `method:${spec.method.name}`)),
    seed: spec.seed,
    ...(hooks.log ? { log: (m: string, level?: 'info' | 'warn') => hooks.log?.(m, level) } : {}),
    data: {
      key: spec.dataKey,
      rows: data.n,
      psiTrain: spec.psiTrain,
      segments: spec.segments,
      labels: data.y,
      numClasses: spec.numClasses,
      initialFeatures: () => featuresOf(model, data),
      shared: spec.shared,
    },
  });
  const modelParams = [...model.params.values(), ...method.modelParams];
  const optimizer = new Optimizer(cfg.optimizer, [
    { params: modelParams, lr: cfg.lr, weightDecay: cfg.weight_decay },
    { params: method.priorParams, lr: cfg.prior_lr, weightDecay: 0 },
  ]);
  const allParams: Variable[] = [...modelParams, ...method.priorParams];
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const batch = Math.min(cfg.batch, data.n);
  const { total, perEpoch } = plannedSteps(data.n, batch, cfg.steps);
  const order = new Rng(seedFor(spec.seed, 'batches'));
  const useReg = method.regularizer !== undefined && spec.beta > 0;
  // Bi-level (`prior_steps` k): the first batch of every k in an epoch updates everything, the
  // others the method's prior only, as the reference's `prior_freq` (its count restarts each
  // epoch too). Without a regulariser the prior has no gradient, so there is nothing to alternate.
  const priorSteps = useReg && method.priorParams.length > 0 ? spec.method.priorSteps : 1;
  let perm = order.permutation(data.n);
  let last = { ce: NaN, reg: NaN, loss: NaN };
  let lastEval: EvalPoint | undefined;

  const evaluate = async (step: number): Promise<EvalPoint> => {
    const rho = await method.rho?.();
    return {
      step,
      epoch: step / perEpoch,
      ...last,
      trainAccuracy: await accuracy(model, data),
      evalAccuracy: await accuracy(model, spec.evalData),
      lr: cfg.lr * scheduleFactor(cfg.schedule, step, total),
      ...(rho ? { rho, rhoBySource: summariseBySegment(rho, spec.segments) } : {}),
    };
  };

  try {
    let lastYield = performance.now();
    for (let step = 0; step < total; step++) {
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (hooks.signal?.aborted) throw new CancelledError();
      const inEpoch = step % perEpoch;
      if (inEpoch === 0 && step > 0) perm = order.permutation(data.n);
      const from = inEpoch * batch;
      const to = Math.min(from + batch, data.n);
      const factor = scheduleFactor(cfg.schedule, step, total);
      const logNow = (step + 1) % cfg.eval_every === 0 || step + 1 === total;
      // The parameters this step updates: on a prior-only step only their gradients are taken, so
      // the student's backward pass is not even computed and θ (and its Adam state) stay as they are.
      const trained = inEpoch % priorSteps === 0 ? allParams : method.priorParams;
      // The step's logged scalars (ce, reg, loss), kept past the tidy and read after it: reads are
      // asynchronous (the webgpu backend cannot read synchronously in Node).
      const logged = tf.tidy(() => {
        const x = tf.tensor(gather(data.x, width, perm, from, to), [to - from, ...data.inputShape]);
        const y = tf.tensor1d(
          Array.from(perm.subarray(from, to), (i) => data.y[i]),
          'int32',
        );
        const psi = useReg
          ? tf.tensor2d(gather(spec.psiTrain, spec.psiWidth, perm, from, to), [to - from, spec.psiWidth])
          : undefined;
        // Tensors made inside variableGrads are freed when it returns; the ones logged are
        // kept explicitly and freed after they are read.
        let ceT: Scalar | undefined;
        let regT: Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const out = model.forward(x, 'train');
          const ce = crossEntropy(out.logits, y);
          if (logNow) ceT = tf.keep(ce);
          if (!useReg || !psi) return ce;
          const reg = method.regularizer!(out.phi, psi);
          if (logNow) regT = tf.keep(reg);
          return tf.add(ce, tf.mul(reg, spec.beta));
        }, trained);
        optimizer.apply(new Map(trained.map((p) => [p, grads[p.name]])), factor);
        // What a tidy returns outlives it (ceT and regT are kept already).
        return logNow ? ([ceT!, regT, value] as const) : [];
      });
      if (logged.length) {
        const [ceT, regT, value] = logged;
        try {
          last = { ce: (await ceT.data())[0], reg: regT ? (await regT.data())[0] : 0, loss: (await value.data())[0] };
        } finally {
          tf.dispose([ceT, value, ...(regT ? [regT] : [])]);
        }
      }
      hooks.onStep?.(step + 1, total);
      if (logNow) {
        lastEval = await evaluate(step + 1);
        hooks.onEval?.(lastEval);
      }
    }
  } catch (e) {
    optimizer.dispose();
    model.dispose();
    method.dispose();
    releaseBackendMemory();
    throw e;
  }
  optimizer.dispose();
  // The last step always evaluates, so the final numbers are the last eval point's.
  const final = lastEval ?? (await evaluate(total));
  releaseBackendMemory();
  if (!Number.isFinite(final.loss)) {
    model.dispose();
    method.dispose();
    throw new AftError('run_failed', `training diverged (loss ${final.loss}); try a smaller lr or β`);
  }
  return {
    evalAccuracy: final.evalAccuracy,
    steps: total,
    seconds: (performance.now() - started) / 1000,
    ...(final.rho ? { rho: final.rho } : {}),
    model,
    method,
  };
}
