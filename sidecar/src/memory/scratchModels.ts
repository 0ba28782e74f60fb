/**
 * The counts of the models trained from scratch (models/model.ts) for the memory estimate:
 * parameters from the layer widths, activations per example from the shapes. The MLP's layers
 * are fused dense + bias + ReLU (one tensor each); a CNN block is a 3x3 convolution, its 2x2
 * max-pool, the bias and the ReLU (one tensor at the convolution's size, three at the pooled
 * size). The small Transformer says none (the estimate then counts its weights only).
 */
import type { DownstreamSpec } from '../../../core/node/experiment/schema';
import type { ActivationCount } from '../../../core/node/students/activations';

export interface ScratchCounts {
  params: number;
  activations?: ActivationCount;
}

export function scratchCounts(
  spec: Pick<DownstreamSpec, 'model' | 'hidden' | 'channels'>,
  inputShape: number[],
  numClasses: number,
): ScratchCounts | undefined {
  // A CNN on inputs that are not images is refused when it is built (models/model.ts).
  if (spec.model !== 'mlp' && (spec.model !== 'cnn' || inputShape.length !== 3)) return undefined;
  let params = 0;
  let acts = 0;
  let largest = 0;
  let flat = inputShape.reduce((a, b) => a * b, 1);
  if (spec.model === 'cnn') {
    let [h, w, c] = inputShape as [number, number, number];
    for (const out of spec.channels) {
      params += 9 * c * out + out;
      const conv = h * w * out;
      [h, w, c] = [Math.floor(h / 2), Math.floor(w / 2), out];
      acts += conv + 3 * h * w * c;
      largest = Math.max(largest, conv);
    }
    flat = h * w * c;
  }
  for (const out of [...spec.hidden, numClasses]) {
    params += flat * out + out;
    acts += out;
    largest = Math.max(largest, out);
    flat = out;
  }
  return { params, activations: { train: acts, eval: acts, largest } };
}
