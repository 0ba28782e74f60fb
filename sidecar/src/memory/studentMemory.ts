/**
 * The memory estimate of a pretrained student's training jobs, from what its folder's header
 * says (the family's state shapes and activation counts) and the experiment's training settings.
 * A run trains its jobs one after another, so its peak is its largest job's: the method that adds
 * the most.
 */
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import type { DownstreamSpec, TrainSpec } from '../../../core/node/experiment/schema';
import type { ActivationCount } from '../../../core/node/students/activations';
import { scratchCounts } from './scratchModels';
import type { StudentFamily, StudentShape } from '../models/students/family';
import { evalChunk } from '../train/evaluate';
import { estimateMemory, type MemoryEstimate, type MemoryInput } from './estimate';
import { methodParams } from './methodParams';
import type { AftError, SourceLocation } from '../../../core/common/util/errors';
import type { BackendChoice } from '../runtime/tf';
import {
  largestBatchThatFits,
  memoryRefusal,
  memoryVerdict,
  thisMachine,
  type BufferLimits,
  type Machine,
  type MemoryVerdict,
} from './limits';

export interface StudentMemoryQuery {
  family: StudentFamily;
  shape: StudentShape;
  /** Input height and width the student is trained at, and its channels. */
  size: [number, number];
  channels: number;
  train: Pick<TrainSpec, 'batch' | 'optimizer' | 'weight_decay'>;
  methods: Pick<ResolvedMethod, 'kind' | 'rho'>[];
  /** ψ's width (0 without sources, or when not known yet). */
  psiWidth: number;
  /** Rows in memory, when known (the dataset is loaded): training and evaluation. */
  rows?: { train: number; eval: number };
  /** The wasm backend's fused kernels run (estimate.ts `fusedKernels`; known once the backend has started). */
  fusedKernels?: boolean;
}

/** What a model says of itself: its parameter counts, φ's width, its activations per example. */
export interface ModelCounts {
  params: number;
  buffers: number;
  featureDim: number;
  activations?: ActivationCount;
  /** Examples per evaluation chunk (train/evaluate.ts `evalChunk`, as the model's evaluation sizes it). */
  evalChunk: number;
}

/** The settings of a run's jobs that the estimate reads. */
export type JobSettings = Pick<StudentMemoryQuery, 'train' | 'methods' | 'psiWidth' | 'rows' | 'fusedKernels'>;

/** The inputs of the estimate, for the method that adds the most (the run's peak job). */
export function jobMemoryInput(m: ModelCounts, inputShape: number[], j: JobSettings): MemoryInput {
  const added = j.methods
    .map((x) => methodParams(x, m.featureDim, j.psiWidth))
    .reduce((a, b) => (a.trained + a.frozen >= b.trained + b.frozen ? a : b), { trained: 0, frozen: 0 });
  // The evaluation reads the training rows too, chunk by chunk.
  const chunk = j.rows ? Math.min(m.evalChunk, Math.max(j.rows.eval, j.rows.train)) : m.evalChunk;
  return {
    params: m.params,
    buffers: m.buffers + added.frozen,
    methodParams: added.trained,
    ...(m.activations ? { activations: m.activations } : {}),
    batch: j.rows ? Math.min(j.train.batch, j.rows.train) : j.train.batch,
    evalChunk: chunk,
    inputElements: inputShape.reduce((a, b) => a * b, 1),
    psiWidth: j.psiWidth,
    optimizer: j.train.optimizer,
    weightDecay: j.train.weight_decay > 0,
    ...(j.fusedKernels ? { fusedKernels: true } : {}),
    ...(j.rows ? { rows: j.rows.train + j.rows.eval } : {}),
  };
}

/** A pretrained student's counts, from its family and shape (the folder's header). */
export function studentCounts(q: Pick<StudentMemoryQuery, 'family' | 'shape' | 'size' | 'channels'>): ModelCounts {
  let params = 0;
  let buffers = 0;
  for (const e of q.family.stateShapes(q.shape)) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.kind === 'param') params += n;
    else buffers += n;
  }
  const activations = q.family.activations?.(q.shape, q.size);
  return {
    params,
    buffers,
    featureDim: q.family.features(q.shape),
    ...(activations ? { activations } : {}),
    // The chunk the evaluation will use (train/evaluate.ts), from the same counts.
    evalChunk: evalChunk([...q.size, q.channels], activations?.eval),
  };
}

export function studentMemoryInput(q: StudentMemoryQuery): MemoryInput {
  return jobMemoryInput(studentCounts(q), [...q.size, q.channels], q);
}

export function studentMemory(q: StudentMemoryQuery): MemoryEstimate {
  return estimateMemory(studentMemoryInput(q));
}

export interface MemoryCheck {
  estimate: MemoryEstimate;
  verdict: MemoryVerdict;
  /** The refusal when the backend cannot hold it (with the numbers and what to change). */
  refusal?: AftError;
}

/** Sides tried for a model whose input size is free (a ResNet): multiples of 32 down from the current one. */
const SIDE_STEP = 32;

/** A job's estimate at its batch and at others, and at other input sides where its weights allow them. */
export interface Estimator {
  batch: number;
  at(batch: number): MemoryEstimate;
  /** The square input's side now and the estimate at another, when the model reads any size. */
  side?: { now: number; at(side: number): MemoryEstimate };
}

/**
 * The estimate held against `backend`; when it cannot hold it, the refusal says the largest batch
 * that fits, a smaller input size (when the weights do not fix it) and the backends to try.
 */
export function checkMemory(
  est: Estimator,
  backend: BackendChoice,
  where: SourceLocation,
  machine: Machine = thisMachine(),
  buffers?: BufferLimits,
): MemoryCheck {
  const estimate = est.at(est.batch);
  const verdict = memoryVerdict(estimate, backend, machine, buffers);
  if (verdict.level !== 'refuse') return { estimate, verdict };
  const judge = (e: MemoryEstimate): MemoryVerdict => memoryVerdict(e, backend, machine, buffers);
  const batchThatFits = largestBatchThatFits(est.batch, (b) => judge(est.at(b)));
  let smallerSize: number | undefined;
  if (est.side) {
    for (let side = Math.floor((est.side.now - 1) / SIDE_STEP) * SIDE_STEP; side >= SIDE_STEP; side -= SIDE_STEP)
      if (judge(est.side.at(side)).level !== 'refuse') {
        smallerSize = side;
        break;
      }
  }
  const backends =
    backend === 'wasm'
      ? [
          ...(memoryVerdict(estimate, 'cpu', machine).level !== 'refuse' ? ["cpu (slower; the machine's memory)"] : []),
          'webgpu or gpu (a GPU)',
        ]
      : backend === 'webgpu'
        ? ["gpu (tfjs-node-gpu's CUDA: no per-buffer limit like WebGPU's)"]
        : ['webgpu or gpu (a GPU)'];
  return {
    estimate,
    verdict,
    refusal: memoryRefusal(
      estimate,
      verdict,
      backend,
      {
        ...(batchThatFits !== undefined ? { batchThatFits } : {}),
        ...(smallerSize !== undefined ? { smallerSize } : {}),
        backends,
      },
      where,
    ),
  };
}

/** `checkMemory` of a pretrained student's jobs. */
export function checkStudentMemory(
  q: StudentMemoryQuery,
  backend: BackendChoice,
  where: SourceLocation,
  machine?: Machine,
  buffers?: BufferLimits,
): MemoryCheck {
  // A smaller side helps only an image student whose weights leave its size free.
  const input = q.family.input(q.shape);
  const fixed = input.kind !== 'image' || input.size !== undefined;
  return checkMemory(
    {
      batch: q.train.batch,
      at: (batch) => studentMemory({ ...q, train: { ...q.train, batch } }),
      ...(fixed
        ? {}
        : { side: { now: Math.min(...q.size), at: (side) => studentMemory({ ...q, size: [side, side] }) } }),
    },
    backend,
    where,
    machine,
    buffers,
  );
}

/** `checkMemory` of an MLP's or CNN's jobs (models/model.ts), or undefined for a model that cannot count. */
export function checkScratchMemory(
  spec: Pick<DownstreamSpec, 'model' | 'hidden' | 'channels'>,
  inputShape: number[],
  numClasses: number,
  j: JobSettings,
  backend: BackendChoice,
  where: SourceLocation,
  machine?: Machine,
  buffers?: BufferLimits,
): MemoryCheck | undefined {
  const c = scratchCounts(spec, inputShape, numClasses);
  if (!c) return undefined;
  const counts: ModelCounts = {
    params: c.params,
    buffers: 0,
    featureDim: spec.hidden[spec.hidden.length - 1],
    ...(c.activations ? { activations: c.activations } : {}),
    evalChunk: evalChunk(inputShape),
  };
  return checkMemory(
    {
      batch: j.train.batch,
      at: (batch) => estimateMemory(jobMemoryInput(counts, inputShape, { ...j, train: { ...j.train, batch } })),
    },
    backend,
    where,
    machine,
    buffers,
  );
}
