/**
 * The token layers' hand-written LayerNorm gradient equals tfjs's autodiff of nn.LayerNorm's
 * formula, on cpu and wasm: values and the gradients of x, γ and β, for ranks 2 to 4 and both
 * of the ε the students use.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layerNorm } from '../../sidecar/src/models/tokenLayers';
import { initBackend, tf, type Tensor } from '../../sidecar/src/runtime/tf';

/** nn.LayerNorm written out: the reference tfjs differentiates itself. */
function reference(x: Tensor, g: Tensor, b: Tensor, eps: number): Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
}

/** Largest |a − b| relative to the largest |b| (1 when b is all zeros). */
function relDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1, tf.max(tf.abs(b)).dataSync()[0]));
}

describe('layerNorm: hand-written gradient against autodiff of the formula', () => {
  for (const backend of ['cpu', 'wasm'] as const)
    for (const [shape, eps] of [
      [[5, 8], 1e-5],
      [[2, 7, 12], 1e-6],
      [[2, 3, 4, 16], 1e-5],
    ] as const) {
      it(`${backend}: [${shape.join(', ')}], ε ${eps}`, async () => {
        await initBackend(backend);
        const d = shape[shape.length - 1];
        // Rows with different scales and offsets, so that the mean and variance matter.
        const x = tf.add(tf.mul(tf.randomNormal([...shape], 0, 1, 'float32', 1), 3), 1.5);
        const g = tf.randomNormal([d], 1, 0.5, 'float32', 2);
        const b = tf.randomNormal([d], 0, 0.5, 'float32', 3);
        const up = tf.randomNormal([...shape], 0, 1, 'float32', 4);
        assert.ok(relDiff(layerNorm(x, g, b, eps), reference(x, g, b, eps)) < 1e-5, 'value differs');
        const loss = (f: typeof reference) => (xx: Tensor, gg: Tensor, bb: Tensor) =>
          tf.sum(tf.mul(f(xx, gg, bb, eps), up));
        const ours = tf.grads(loss(layerNorm))([x, g, b]);
        const want = tf.grads(loss(reference))([x, g, b]);
        ['x', 'γ', 'β'].forEach((what, i) => {
          assert.deepEqual(ours[i].shape, want[i].shape, `gradient of ${what}: shape`);
          const diff = relDiff(ours[i], want[i]);
          assert.ok(diff < 1e-4, `gradient of ${what} differs by ${diff} (relative)`);
        });
        await initBackend('cpu');
      });
    }
});
