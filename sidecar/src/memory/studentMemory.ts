/**
 * The memory estimate of a pretrained student's training jobs, from what its folder's header
 * says (the family's state shapes and activation counts) and the experiment's training settings.
 * A run trains its jobs one after another, so its peak is its largest job's: the method that adds
 * the most.
 */
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import type { TrainSpec } from '../../../core/node/experiment/schema';
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
}

/** The inputs of the estimate, for the method that adds the most (the run's peak job). */
export function studentMemoryInput(q: StudentMemoryQuery): MemoryInput {
  let params = 0;
  let buffers = 0;
  for (const e of q.family.stateShapes(q.shape)) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.kind === 'param') params += n;
    else buffers += n;
  }
  const featureDim = q.family.features(q.shape);
  const added = q.methods
    .map((m) => methodParams(m, featureDim, q.psiWidth))
    .reduce((a, b) => (a.trained + a.frozen >= b.trained + b.frozen ? a : b), { trained: 0, frozen: 0 });
  const inputShape = [q.size[0], q.size[1], q.channels];
  const activations = q.family.activations?.(q.shape, q.size);
  // The chunk the evaluation will use (train/evaluate.ts), from the same counts.
  const chunk = evalChunk(inputShape, activations?.eval);
  const batch = q.rows ? Math.min(q.train.batch, q.rows.train) : q.train.batch;
  return {
    params,
    buffers: buffers + added.frozen,
    methodParams: added.trained,
    ...(activations ? { activations } : {}),
    batch,
    evalChunk: q.rows ? Math.min(chunk, Math.max(q.rows.eval, q.rows.train)) : chunk,
    inputElements: inputShape.reduce((a, b) => a * b, 1),
    psiWidth: q.psiWidth,
    optimizer: q.train.optimizer,
    weightDecay: q.train.weight_decay > 0,
    ...(q.rows ? { rows: q.rows.train + q.rows.eval } : {}),
  };
}

export function studentMemory(q: StudentMemoryQuery): MemoryEstimate {
  return estimateMemory(studentMemoryInput(q));
}

export interface StudentMemoryCheck {
  estimate: MemoryEstimate;
  verdict: MemoryVerdict;
  /** The refusal when the backend cannot hold it (with the numbers and what to change). */
  refusal?: AftError;
}

/** Sides tried for a student whose input size is free (a ResNet): multiples of 32 down from the current one. */
const SIDE_STEP = 32;

/**
 * The estimate held against `backend`; when it cannot hold it, the refusal says the largest batch
 * that fits, a smaller input size (when the weights do not fix it) and the backends to try.
 */
export function checkStudentMemory(
  q: StudentMemoryQuery,
  backend: BackendChoice,
  where: SourceLocation,
  machine: Machine = thisMachine(),
  buffers?: BufferLimits,
): StudentMemoryCheck {
  const estimate = studentMemory(q);
  const verdict = memoryVerdict(estimate, backend, machine, buffers);
  if (verdict.level !== 'refuse') return { estimate, verdict };
  const at = (change: Partial<StudentMemoryQuery>): MemoryVerdict =>
    memoryVerdict(studentMemory({ ...q, ...change }), backend, machine, buffers);
  const batchThatFits = largestBatchThatFits(q.train.batch, (b) => at({ train: { ...q.train, batch: b } }));
  let smallerSize: number | undefined;
  if (!q.family.input(q.shape).size) {
    for (let side = Math.floor((Math.min(...q.size) - 1) / SIDE_STEP) * SIDE_STEP; side >= SIDE_STEP; side -= SIDE_STEP)
      if (at({ size: [side, side] }).level !== 'refuse') {
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
