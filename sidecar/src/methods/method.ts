/**
 * One interface for every transfer method: the training loop asks a method for its extra
 * parameters and for the regulariser of a batch, and knows nothing else about it.
 */
import type { ResolvedMethod } from '../experiment/semantics';
import type { Scalar, Tensor2D, Variable } from '../runtime/tf';
import type { Rng } from '../util/rng';

export interface MethodSetup {
  method: ResolvedMethod;
  /** Width d of the downstream features φ. */
  featureDim: number;
  /** Width D of the concatenated pre-trained features ψ (0 when there are none). */
  psiDim: number;
  rng: Rng;
}

export interface TransferMethod {
  readonly name: string;
  /** Parameters trained with the model's learning rate (e.g. KD's linear map). */
  readonly modelParams: Variable[];
  /** Parameters trained with `prior_lr` and no weight decay (e.g. AFT's s). */
  readonly priorParams: Variable[];
  /** Whether this method reads ψ (STL does not). */
  readonly usesPretrained: boolean;
  /** The regulariser R(φ, ψ) of one batch; undefined for STL. */
  regularizer?(phi: Tensor2D, psi: Tensor2D): Scalar;
  /** Current learned per-feature weights ρ ∈ [0,1]^D, for methods that learn them. */
  rho?(): Float32Array;
  dispose(): void;
}

export type MethodFactory = (setup: MethodSetup) => TransferMethod;
