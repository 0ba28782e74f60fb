/**
 * Small fully connected stacks for the methods' auxiliary networks (factor transfer's
 * autoencoder and translator). Layers go through `dense` so their gradients stay on the fast
 * matmul path of the wasm backend.
 */
import { tf, type Tensor, type Tensor2D, type Variable } from '../runtime/tf';
import { dense, glorot, heUniform, variable } from '../models/layers';
import type { Rng } from '../util/rng';

export interface DenseLayer {
  w: Variable;
  b: Variable;
}

/**
 * Layers of widths[0] → widths[1] → … with ReLU between them and a linear output. Layers that
 * feed a ReLU get He init, the output layer Glorot init, or zeros when `zeroLast` is set.
 */
export function createMlp(rng: Rng, widths: readonly number[], name: string, zeroLast = false): DenseLayer[] {
  const layers: DenseLayer[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const [fanIn, fanOut] = [widths[i], widths[i + 1]];
    const last = i + 2 === widths.length;
    const init = last
      ? zeroLast
        ? new Float32Array(fanIn * fanOut)
        : glorot(rng, fanIn, fanOut, [fanIn, fanOut])
      : heUniform(rng, fanIn, [fanIn, fanOut]);
    layers.push({
      w: variable(init, [fanIn, fanOut], `${name}${i}.w`),
      b: variable(new Float32Array(fanOut), [fanOut], `${name}${i}.b`),
    });
  }
  return layers;
}

/**
 * Forward pass with ReLU after every layer but the last (and after the last too with `reluLast`);
 * works on variables or frozen copies.
 */
export function applyMlp(layers: readonly { w: Tensor; b: Tensor }[], x: Tensor2D, reluLast = false): Tensor2D {
  let h = x;
  layers.forEach((l, i) => {
    h = dense(h, l.w, l.b);
    if (reluLast || i + 1 < layers.length) h = tf.relu(h);
  });
  return h;
}

export function mlpVariables(layers: readonly DenseLayer[]): Variable[] {
  return layers.flatMap((l) => [l.w, l.b]);
}

/** Plain (non-variable) copies of the current weights: constants for a frozen network. */
export function freezeMlp(layers: readonly DenseLayer[]): { w: Tensor; b: Tensor }[] {
  return layers.map((l) => ({ w: tf.keep(tf.clone(l.w)), b: tf.keep(tf.clone(l.b)) }));
}
