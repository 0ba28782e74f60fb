/**
 * What every downstream (student) model is to the engine: a forward pass giving φ (the input
 * of its linear head) and the logits, and its trainable parameters by stable name.
 */
import type { Tensor, Tensor2D, Variable } from '../runtime/tf';

export interface ModelOutput {
  phi: Tensor2D;
  logits: Tensor2D;
}

export interface DownstreamModel {
  kind: 'mlp' | 'cnn' | 'transformer';
  /** Width d of φ. */
  featureDim: number;
  /** Trainable parameters by stable name (checkpoint keys). */
  params: Map<string, Variable>;
  /** x has shape [batch, ...inputShape]. */
  forward(x: Tensor): ModelOutput;
  dispose(): void;
}
