/**
 * Pooling of a model output into one feature vector per example. Token outputs [N, T, D] need
 * `cls` (position 0: BERT, ViT, DINOv2, CLIP's vision tower), `mean` (over positions the
 * attention mask keeps, or all of them without a mask) or `last` (the last position the mask
 * keeps: GPT-2, T5 decoders, LLaMA); an output that is already one vector per example
 * ([N, D], or [N, D, 1, 1] as BiT's pooler gives) takes `none`.
 */
import type { Pooling } from '../../../core/node/experiment/schema';

export interface Pooled {
  width: number;
  /** n × width, row-major. */
  data: Float32Array;
}

/** Why a pooling does not fit an output shape, or undefined when it does. */
export function poolingProblem(pooling: Pooling, dims: readonly (number | string)[]): string | undefined {
  const rank = dims.length;
  if (rank < 2) return `the output has shape [${dims.join(', ')}]; features need one row per example`;
  if (pooling === 'none') {
    const tokens = rank === 3 && dims[2] !== 1;
    return tokens
      ? `the output has shape [${dims.join(', ')}] (tokens × features); choose pooling cls, mean or last`
      : undefined;
  }
  if (rank !== 3)
    return `pooling ${pooling} needs a token output [N, T, D], but the output has shape [${dims.join(', ')}]; use pooling: none`;
  return undefined;
}

/**
 * Pools `data` of shape `dims`; `mask` ([N, T], 1 for real tokens) applies to `mean` and `last`.
 * The caller has checked the shape with `poolingProblem`.
 */
export function pool(pooling: Pooling, data: Float32Array, dims: readonly number[], mask?: ArrayLike<number>): Pooled {
  const n = dims[0];
  if (pooling === 'none') {
    const width = n ? data.length / n : dims.slice(1).reduce((a, b) => a * b, 1);
    return { width, data };
  }
  const [, t, d] = dims as [number, number, number];
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const base = r * t * d;
    if (pooling === 'cls') {
      out.set(data.subarray(base, base + d), r * d);
    } else if (pooling === 'last') {
      let last = t - 1;
      if (mask) while (last > 0 && !mask[r * t + last]) last--;
      out.set(data.subarray(base + last * d, base + (last + 1) * d), r * d);
    } else {
      let count = 0;
      for (let p = 0; p < t; p++) {
        if (mask && !mask[r * t + p]) continue;
        count++;
        for (let k = 0; k < d; k++) out[r * d + k] += data[base + p * d + k];
      }
      for (let k = 0; k < d; k++) out[r * d + k] /= Math.max(count, 1);
    }
  }
  return { width: d, data: out };
}
