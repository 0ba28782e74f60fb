/**
 * ONNX models made by the project's own exporter for benchmarks and checks: a conv net on
 * side×side×3 images (3×3 convolutions, each halving the side, a dense layer and a 10-way head),
 * He-initialised from a seed. `convNetOnnx(224, [64, 128, 256, 256], 16)` costs about what
 * DINOv2-S does per image (scripts/gpu-check/prepare.ts, the GPU check's extraction figures).
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { exportDownstream } from '../export/downstream';
import { Rng } from '../util/rng';

/** A He-initialised tensor (normal, std √(2 / fanIn)) drawn from `rng`. */
export function heWeight(rng: Rng, shape: number[], fanIn: number): StTensor {
  const std = Math.sqrt(2 / fanIn);
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * std) };
}

export function convNetOnnx(side: number, channels: number[], hidden: number, rng = new Rng(11)): Uint8Array {
  const w = (shape: number[], fanIn: number): StTensor => heWeight(rng, shape, fanIn);
  const weights: Record<string, StTensor> = {};
  let c = 3;
  channels.forEach((o, i) => {
    weights[`conv${i}.w`] = w([3, 3, c, o], 9 * c);
    weights[`conv${i}.b`] = w([o], 1);
    c = o;
  });
  const s = side >> channels.length;
  Object.assign(weights, {
    'fc0.w': w([s * s * c, hidden], s * s * c),
    'fc0.b': w([hidden], 1),
    'head.w': w([hidden, 10], hidden),
    'head.b': w([10], 1),
  });
  return exportDownstream(weights, {
    kind: 'cnn',
    inputShape: [side, side, 3],
    channels,
    hidden: [hidden],
    numClasses: 10,
  });
}
