/**
 * Building blocks written with explicit gradients. tfjs's default matMul gradient uses the
 * transposed-operand path, which on the wasm backend is ~10x slower than a plain product
 * (measured: 9 ms vs 0.8 ms for the 784x128 weight gradient at batch 128); transposing
 * explicitly first keeps every product on XNNPACK's fast path.
 */
import { tf, type Tensor, type Tensor2D, type Variable } from '../runtime/tf';
import type { Rng } from '../util/rng';

/** y = x W + b, with gradients computed as plain (untransposed-flag) products. */
// tfjs types customGrad's callback as variadic (Tensor | GradSaveFunc)[]; the casts name them.
export const dense = tf.customGrad<Tensor2D>((...args: unknown[]) => {
  const [x, w, b, save] = args as [Tensor2D, Tensor2D, Tensor, (ts: Tensor[]) => void];
  save([x, w]);
  return {
    value: tf.add<Tensor2D>(tf.matMul(x, w), b),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const g = dy as Tensor2D;
      const [xs, ws] = saved as [Tensor2D, Tensor2D];
      return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g), tf.sum(g, 0)];
    },
  };
});

/** A product a·bᵀ with the fast-path gradient (used by kernels, K = φφᵀ). */
export function matMulT(a: Tensor2D, b: Tensor2D): Tensor2D {
  return tf.matMul(a, tf.transpose(b));
}

/** Glorot-uniform weights from a seeded stream. */
export function glorot(rng: Rng, fanIn: number, fanOut: number, shape: number[]): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

/** He-uniform weights (for layers followed by ReLU). */
export function heUniform(rng: Rng, fanIn: number, shape: number[]): Float32Array {
  const limit = Math.sqrt(6 / fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

export function variable(values: Float32Array, shape: number[], name: string): Variable {
  return tf.variable(tf.tensor(values, shape), true, `${name}_${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * 3x3 "same" convolution as patches × weights. The wasm backend has no Conv2DBackpropFilter
 * kernel, so a native conv2d cannot be trained there; slicing patches and one product works on
 * every backend and keeps the product on the fast path.
 */
export function conv3x3(x: Tensor, w: Tensor, b: Tensor): Tensor {
  const [n, h, wd, c] = x.shape as [number, number, number, number];
  const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const patches: Tensor[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) patches.push(tf.slice(padded, [0, dy, dx, 0], [n, h, wd, c]));
  const cols = tf.reshape(tf.concat(patches, 3), [n * h * wd, 9 * c]);
  const out = dense(cols, w, b);
  return tf.reshape(out, [n, h, wd, w.shape[1]!]);
}
