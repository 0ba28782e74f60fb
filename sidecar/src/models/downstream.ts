/**
 * What every downstream (student) model is to the engine: a forward pass giving φ (the input
 * of its linear head) and the logits, and its trainable parameters by stable name.
 */
import type { Tensor, Tensor2D, Variable } from '../runtime/tf';

export interface ModelOutput {
  phi: Tensor2D;
  logits: Tensor2D;
}

/**
 * `train` while a training step computes its loss (BatchNorm uses the batch's statistics and
 * updates its running ones), `eval` otherwise (the default).
 */
export type ForwardMode = 'train' | 'eval';

export interface DownstreamModel {
  kind: 'mlp' | 'cnn' | 'transformer' | 'pretrained' | 'two-tower';
  /** Width d of φ. */
  featureDim: number;
  /** Trainable parameters by stable name (checkpoint keys). */
  params: Map<string, Variable>;
  /** State that is saved with the parameters but not trained (BatchNorm's running statistics), by name. */
  buffers?: Map<string, Variable>;
  /**
   * Float32 elements an evaluation forward holds at its peak per example, when the model can
   * count them (a pretrained student's family): evaluation chunks are sized by it
   * (train/evaluate.ts), so that a large model's chunk fits the wasm heap.
   */
  evalActivations?: number;
  /** x has shape [batch, ...inputShape]. */
  forward(x: Tensor, mode?: ForwardMode): ModelOutput;
  dispose(): void;
}

/** A model's layers up to its features, without a head: what the models and the two-tower's towers are built of. */
export interface Trunk {
  /** Width of the features. */
  featureDim: number;
  /** x has shape [batch, ...inputShape]; the features are [batch, featureDim]. */
  features(x: Tensor): Tensor2D;
}
