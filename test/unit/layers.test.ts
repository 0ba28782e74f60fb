/**
 * The hand-written gradients (dense, 3x3 conv) must equal tfjs's own gradients, which the cpu
 * backend computes with its reference kernels.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { conv3x3, dense } from '../../sidecar/src/models/layers';
import { initBackend, tf, type Tensor, type Tensor2D, type Tensor4D } from '../../sidecar/src/runtime/tf';

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('hand-written gradients equal tfjs reference gradients', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('dense: dx, dW, db', () => {
    const x = tf.randomNormal<tf.Rank.R2>([7, 5], 0, 1, 'float32', 1);
    const w = tf.randomNormal<tf.Rank.R2>([5, 3], 0, 1, 'float32', 2);
    const b = tf.randomNormal([3], 0, 1, 'float32', 3);
    const up = tf.randomNormal([7, 3], 0, 1, 'float32', 4);
    const ours = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(dense(xx, ww, bb), up)))([x, w, b]);
    const ref = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(xx as Tensor2D, ww as Tensor2D), bb), up)))([x, w, b]);
    ours.forEach((g, i) => assert.ok(maxAbsDiff(g, ref[i]) < 1e-5, `gradient ${i} differs`));
  });

  for (const [h, cin, cout] of [
    [6, 1, 4],
    [5, 3, 2],
  ] as const) {
    it(`conv3x3 ${h}x${h}x${cin}→${cout}: dx and dW`, () => {
      const x = tf.randomNormal<tf.Rank.R4>([2, h, h, cin], 0, 1, 'float32', 5);
      const w = tf.randomNormal<tf.Rank.R4>([3, 3, cin, cout], 0, 1, 'float32', 6);
      const b = tf.zeros([cout]);
      const up = tf.randomNormal([2, h, h, cout], 0, 1, 'float32', 7);
      const ours = tf.grads((xx: Tensor, ww: Tensor) => tf.sum(tf.mul(conv3x3(xx as Tensor4D, ww as Tensor4D, b), up)))([x, w]);
      const ref = tf.grads((xx: Tensor, ww: Tensor) => tf.sum(tf.mul(tf.conv2d(xx as Tensor4D, ww as Tensor4D, 1, 'same'), up)))([x, w]);
      assert.ok(maxAbsDiff(ours[0], ref[0]) < 1e-4, 'input gradient differs');
      assert.ok(maxAbsDiff(ours[1], ref[1]) < 1e-4, 'filter gradient differs');
    });
  }

  it('conv3x3 on a data input skips the input gradient but keeps dW', () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 4, 4, 1], 0, 1, 'float32', 8);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, 1, 2], 0, 1, 'float32', 9);
    const [gw] = tf.grads((ww: Tensor) => tf.sum(conv3x3(x, ww as Tensor4D, tf.zeros([2]), true)))([w]);
    const [ref] = tf.grads((ww: Tensor) => tf.sum(tf.conv2d(x, ww as Tensor4D, 1, 'same')))([w]);
    assert.ok(maxAbsDiff(gw, ref) < 1e-4);
  });
});
