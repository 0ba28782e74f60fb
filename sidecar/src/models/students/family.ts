/**
 * A family of pre-trained student architectures as the engine uses it: what the folder checks
 * know of it (core/node/students/family.ts `StudentSpec`: shape, expected state, input) plus what
 * builds, initialises and exports the model, so that pretrained.ts, export and predict dispatch by
 * family and know nothing of any one architecture. A family is registered in registry.ts.
 */
import type { StTensor } from '../../../../core/node/io/safetensors';
import type { StudentShape, StudentSpec } from '../../../../core/node/students/family';
import type { OnnxGraph } from '../../export/graph';
import type { Rng } from '../../util/rng';
import type { DownstreamModel } from '../downstream';

export type {
  HubConfig,
  HubFiles,
  StateEntry,
  StudentInput,
  StudentShape,
  StudentSpec,
} from '../../../../core/node/students/family';

export interface StudentOptions {
  /** `train`: batch statistics while training (PyTorch's `model.train()`); `frozen`: always the running statistics. */
  batchnorm: 'train' | 'frozen';
  /** Seeds the dropout masks of a family that has dropout. */
  seed: number;
}

export interface StudentModel extends DownstreamModel {
  shape: StudentShape;
  /** The state dict as PyTorch has it (its layouts, buffers, int64 counters); read asynchronously, as webgpu needs. */
  stateDict(): Promise<Record<string, StTensor>>;
}

export interface StudentFamily<S extends StudentShape = StudentShape> extends StudentSpec<S> {
  /**
   * The shape and state with the new classifier `head` (its weight and bias, PyTorch's
   * nn.Linear init) in place of the folder's; a family whose head is more than one linear layer,
   * or whose keys change when a bare model gets a head, says so here (default: `head` replaces
   * the classifier and `numClasses` becomes its rows).
   */
  withHead?(
    s: S,
    state: Record<string, StTensor>,
    head: Record<string, StTensor>,
    rng: Rng,
  ): { shape: S; state: Record<string, StTensor> };
  /** A state dict initialised as the library does for a new model (`weights: random`: from scratch). */
  init(s: S, rng: Rng): Record<string, StTensor>;
  /** The student with the given state dict (already checked against `stateShapes`). */
  build(s: S, state: Record<string, StTensor>, opts: StudentOptions): StudentModel;
  /**
   * The ONNX graph of the student: `input` in the engine's layout (text: `input_ids` and
   * `attention_mask`, int64 [N, T]), outputs `logits` and `features`.
   */
  onnx(state: Record<string, StTensor>, s: S, inputShape: number[]): OnnxGraph;
}
