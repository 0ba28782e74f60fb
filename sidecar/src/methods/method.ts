/**
 * One interface for every transfer method: the training loop asks a method for its extra
 * parameters and for the regulariser of a batch, and knows nothing else about it.
 */
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import type { Segment } from '../../../core/common/protocol/events';
import type { Scalar, Tensor2D, Variable } from '../runtime/tf';
import type { Rng } from '../util/rng';

/**
 * State that several jobs of a run can share because it depends only on their training data
 * (e.g. factor transfer's autoencoder, LogME of each source), not on β or the seed.
 */
export class SharedMethodState {
  private readonly items = new Map<string, { value: unknown; dispose?: () => void }>();

  get<T>(key: string, create: () => T, dispose?: (v: T) => void): T {
    const hit = this.items.get(key);
    if (hit) return hit.value as T;
    const value = create();
    this.items.set(key, { value, ...(dispose ? { dispose: () => dispose(value) } : {}) });
    return value;
  }

  /**
   * `get` for a value made asynchronously: callers while it is being made share the promise; a
   * failure is not kept (the next caller tries again), as `get` keeps nothing when `create` throws.
   */
  getAsync<T>(key: string, create: () => Promise<T>, dispose?: (v: T) => void): Promise<T> {
    const hit = this.items.get(key);
    if (hit) return hit.value as Promise<T>;
    const value = create();
    this.items.set(key, { value, ...(dispose ? { dispose: () => void value.then(dispose, () => {}) } : {}) });
    value.catch(() => {
      if (this.items.get(key)?.value === value) this.items.delete(key);
    });
    return value;
  }

  dispose(): void {
    for (const v of this.items.values()) v.dispose?.();
    this.items.clear();
  }
}

/** The training data a method may need before training starts (B-Tuning, factor transfer). */
export interface MethodData {
  /** Identifies the training set (e.g. `final`, `tune`), for shared state. */
  key: string;
  rows: number;
  /** ψ of the training rows, rows × psiDim. */
  psiTrain: Float32Array;
  segments: Segment[];
  labels: Int32Array;
  numClasses: number;
  /** φ of the untrained student on the training rows, rows × featureDim (computed on demand). */
  initialFeatures(): Promise<Float32Array>;
  shared: SharedMethodState;
}

export interface MethodSetup {
  method: ResolvedMethod;
  /** Width d of the downstream features φ. */
  featureDim: number;
  /** Width D of the concatenated pre-trained features ψ (0 when there are none). */
  psiDim: number;
  rng: Rng;
  /** Seed of the job (methods derive their own streams from it). */
  seed: number;
  data: MethodData;
  /** For what the user should know about how the method set itself up. */
  log?(message: string, level?: 'info' | 'warn'): void;
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
  rho?(): Promise<Float32Array>;
  dispose(): void;
}

/** Async where a method reads tensors back to set itself up (B-Tuning's LogME of φ, FT's autoencoder). */
export type MethodFactory = (setup: MethodSetup) => TransferMethod | Promise<TransferMethod>;
