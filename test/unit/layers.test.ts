/**
 * The hand-written gradients (dense, dense + relu, 3x3 conv, cross-entropy) must equal tfjs's own gradients, which the cpu
 * backend computes with its reference kernels.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { conv2d, conv3x3, convOut, dense, denseRelu, transposedProduct } from '../../sidecar/src/models/layers';
import { crossEntropy } from '../../sidecar/src/methods/regularizers';
import { channelSum } from '../../sidecar/src/models/batchNorm';
import { initBackend, tf, type Tensor, type Tensor2D, type Tensor4D } from '../../sidecar/src/runtime/tf';

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('hand-written gradients equal tfjs reference gradients', () => {
  before(async () => {
    await initBackend('cpu');
  });

  // Each side the narrower: the product as aᵀ·b and as (bᵀ·a)ᵀ.
  for (const [k, m, n] of [
    [9, 2, 5],
    [9, 5, 2],
  ] as const)
    it(`transposedProduct [${k}, ${m}]ᵀ·[${k}, ${n}] equals tfjs's transposed-operand product`, () => {
      const a = tf.randomNormal<tf.Rank.R2>([k, m], 0, 1, 'float32', 31);
      const b = tf.randomNormal<tf.Rank.R2>([k, n], 0, 1, 'float32', 32);
      const got = transposedProduct(a, b);
      assert.deepEqual(got.shape, [m, n]);
      assert.ok(maxAbsDiff(got, tf.matMul(a, b, true, false)) < 1e-5);
    });

  it('dense: dx, dW, db', () => {
    const x = tf.randomNormal<tf.Rank.R2>([7, 5], 0, 1, 'float32', 1);
    const w = tf.randomNormal<tf.Rank.R2>([5, 3], 0, 1, 'float32', 2);
    const b = tf.randomNormal([3], 0, 1, 'float32', 3);
    const up = tf.randomNormal([7, 3], 0, 1, 'float32', 4);
    const ours = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(dense(xx, ww, bb), up)))([x, w, b]);
    const ref = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) =>
      tf.sum(tf.mul(tf.add(tf.matMul(xx as Tensor2D, ww as Tensor2D), bb), up)),
    )([x, w, b]);
    ours.forEach((g, i) => assert.ok(maxAbsDiff(g, ref[i]) < 1e-5, `gradient ${i} differs`));
  });

  for (const onData of [false, true]) {
    it(`denseRelu${onData ? ' on data' : ''}: value, ${onData ? '' : 'dx, '}dW and db equal relu(x W + b)'s`, () => {
      const x = tf.randomNormal<tf.Rank.R2>([9, 6], 0, 1, 'float32', 21);
      const w = tf.randomNormal<tf.Rank.R2>([6, 4], 0, 1, 'float32', 22);
      const b = tf.randomNormal([4], 0, 1, 'float32', 23);
      const up = tf.randomNormal([9, 4], 0, 1, 'float32', 24);
      const ref = (xx: Tensor, ww: Tensor, bb: Tensor): Tensor =>
        tf.relu(tf.add(tf.matMul(xx as Tensor2D, ww as Tensor2D), bb));
      assert.ok(maxAbsDiff(denseRelu(x, w, b, onData), ref(x, w, b)) < 1e-5, 'value differs');
      const ours = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(denseRelu(xx, ww, bb, onData), up)))([
        x,
        w,
        b,
      ]);
      const want = tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(ref(xx, ww, bb), up)))([x, w, b]);
      // On data the input's gradient is zeros (not computed).
      if (onData)
        assert.equal(
          tf.tidy(() => tf.max(tf.abs(ours[0])).dataSync()[0]),
          0,
        );
      ours.forEach((g, i) => (i > 0 || !onData) && assert.ok(maxAbsDiff(g, want[i]) < 1e-5, `gradient ${i} differs`));
    });
  }

  it('crossEntropy: value and gradient equal autodiff of −mean(log softmax · one-hot)', () => {
    const logits = tf.randomNormal<tf.Rank.R2>([8, 5], 0, 2, 'float32', 25);
    const labels = tf.tensor1d([0, 4, 2, 2, 1, 3, 0, 4], 'int32');
    const ref = (l: Tensor): Tensor =>
      tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l as Tensor2D), tf.oneHot(labels, 5)), 1)));
    assert.ok(maxAbsDiff(crossEntropy(logits, labels), ref(logits)) < 1e-6);
    const ours = tf.grad((l: Tensor) => tf.mul(crossEntropy(l as Tensor2D, labels), 3))(logits);
    const want = tf.grad((l: Tensor) => tf.mul(ref(l), 3))(logits);
    assert.ok(maxAbsDiff(ours, want) < 1e-6);
  });

  // 1 and 3 input channels take the im2col filter gradient, 6 the batch-as-channels convolution.
  for (const [h, cin, cout] of [
    [6, 1, 4],
    [5, 3, 2],
    [4, 6, 3],
  ] as const) {
    it(`conv3x3 ${h}x${h}x${cin}→${cout}: dx and dW`, () => {
      const x = tf.randomNormal<tf.Rank.R4>([2, h, h, cin], 0, 1, 'float32', 5);
      const w = tf.randomNormal<tf.Rank.R4>([3, 3, cin, cout], 0, 1, 'float32', 6);
      const up = tf.randomNormal([2, h, h, cout], 0, 1, 'float32', 7);
      const ours = tf.grads((xx: Tensor, ww: Tensor) => tf.sum(tf.mul(conv3x3(xx as Tensor4D, ww as Tensor4D), up)))([
        x,
        w,
      ]);
      const ref = tf.grads((xx: Tensor, ww: Tensor) =>
        tf.sum(tf.mul(tf.conv2d(xx as Tensor4D, ww as Tensor4D, 1, 'same'), up)),
      )([x, w]);
      assert.ok(maxAbsDiff(ours[0], ref[0]) < 1e-4, 'input gradient differs');
      assert.ok(maxAbsDiff(ours[1], ref[1]) < 1e-4, 'filter gradient differs');
    });
  }

  it('conv3x3 on a data input skips the input gradient but keeps dW', () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 4, 4, 1], 0, 1, 'float32', 8);
    const w = tf.randomNormal<tf.Rank.R4>([3, 3, 1, 2], 0, 1, 'float32', 9);
    const [gw] = tf.grads((ww: Tensor) => tf.sum(conv3x3(x, ww as Tensor4D, true)))([w]);
    const [ref] = tf.grads((ww: Tensor) => tf.sum(tf.conv2d(x, ww as Tensor4D, 1, 'same')))([w]);
    assert.ok(maxAbsDiff(gw, ref) < 1e-4);
  });

  // PyTorch's geometries in a ResNet (stem 7x7/2, 3x3/1 and /2, 1x1/1 and /2), on even and odd
  // sizes, widening and narrowing (a 1x1 weight gradient transposes the narrower side); tfjs's
  // own gradients on cpu are the reference, ours run on cpu and wasm.
  for (const [k, stride, pad, h, w, cin, cout] of [
    [7, 2, 3, 12, 11, 2, 3],
    [3, 1, 1, 6, 5, 2, 3],
    [3, 2, 1, 9, 8, 2, 3],
    [3, 2, 1, 4, 4, 2, 3],
    [1, 1, 0, 5, 4, 2, 3],
    [1, 1, 0, 5, 4, 5, 3],
    [1, 2, 0, 7, 6, 2, 3],
    [1, 2, 0, 7, 6, 4, 2],
  ] as const) {
    it(`conv2d ${k}x${k} stride ${stride} pad ${pad} on ${h}x${w}, ${cin}→${cout} channels: value, dx and dW equal tfjs's, on cpu and wasm`, async () => {
      const g = { kernel: k, stride, pad };
      const x = tf.randomNormal<tf.Rank.R4>([3, h, w, cin], 0, 1, 'float32', 11);
      const wt = tf.randomNormal<tf.Rank.R4>([k, k, cin, cout], 0, 1, 'float32', 12);
      const up = tf.randomNormal([3, convOut(h, g), convOut(w, g), cout], 0, 1, 'float32', 13);
      const ref = (xx: Tensor, ww: Tensor): Tensor =>
        tf.conv2d(
          tf.pad(xx as Tensor4D, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ]),
          ww as Tensor4D,
          stride,
          'valid',
        );
      const arrays = (ts: Tensor[]): { shape: number[]; data: Float32Array }[] =>
        ts.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
      const want = arrays([
        ref(x, wt),
        ...tf.grads((xx: Tensor, ww: Tensor) => tf.sum(tf.mul(ref(xx, ww), up)))([x, wt]),
      ]);
      const inputs = arrays([x, wt, up]);
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend(backend);
        const [xb, wb, ub] = inputs.map((a) => tf.tensor(a.data, a.shape));
        const ours = [
          conv2d(xb as Tensor4D, wb as Tensor4D, g),
          ...tf.grads((xx: Tensor, ww: Tensor) => tf.sum(tf.mul(conv2d(xx as Tensor4D, ww as Tensor4D, g), ub)))([
            xb,
            wb,
          ]),
        ];
        ['value', 'input gradient', 'filter gradient'].forEach((what, i) => {
          const got = ours[i].dataSync();
          const diff = Math.max(...Array.from(got, (v, j) => Math.abs(v - want[i].data[j])));
          assert.deepEqual(ours[i].shape, want[i].shape);
          assert.ok(diff < 1e-4, `${what} differs on ${backend} by ${diff}`);
        });
      }
      await initBackend('cpu');
    });
  }

  it('channelSum sums over N, H and W', () => {
    const x = tf.randomNormal<tf.Rank.R4>([2, 3, 4, 5], 0, 1, 'float32', 14);
    assert.ok(maxAbsDiff(channelSum(x), tf.sum(x, [0, 1, 2])) < 1e-5);
  });
});
