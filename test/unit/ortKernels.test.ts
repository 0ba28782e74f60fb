/**
 * The wasm backend's convolutions, their gradients, products and max-pool gradients computed by
 * onnxruntime (runtime/ortKernels.ts) give what tfjs-backend-cpu's reference kernels give, values
 * and gradients, on both of its graphs (MLAS's Conv on wide maps, im2col below), and each case
 * checks that onnxruntime computed it. `AFT_ORT_MIN_MACS=0` routes the small shapes of these cases
 * too (by default products under 2^18 multiply-adds stay on XNNPACK).
 */
process.env.AFT_ORT_MIN_MACS = '0';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchNorm, channelSum } from '../../sidecar/src/models/batchNorm';
import { conv2d as modelConv2d, conv3x3 } from '../../sidecar/src/models/layers';
import { ortCalls } from '../../sidecar/src/runtime/ortKernels';
import { initBackend, tf, type Tensor, type Tensor4D } from '../../sidecar/src/runtime/tf';

interface Arr {
  shape: number[];
  data: Float32Array;
}

/** Seeded values in [-1, 1). */
function values(shape: number[], seed: number): Arr {
  let s = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1) };
}

const read = async (t: Tensor): Promise<Arr> => ({ shape: t.shape, data: (await t.data()) as Float32Array });

/** Largest difference relative to the largest reference value. */
function assertClose(got: Arr, want: Arr, what: string, tol = 1e-5): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  let scale = 1e-6;
  let diff = 0;
  want.data.forEach((v, i) => {
    scale = Math.max(scale, Math.abs(v));
    diff = Math.max(diff, Math.abs(got.data[i] - v));
  });
  assert.ok(diff / scale <= tol, `${what}: differs by ${diff} (relative ${(diff / scale).toExponential(2)})`);
}

/** Runs `f` on the cpu and on the wasm backend; returns both results and the kernels onnxruntime ran. */
async function onBoth(f: () => Promise<Arr[]>): Promise<{ cpu: Arr[]; wasm: Arr[]; routed: Set<string> }> {
  await initBackend('cpu');
  const cpu = await f();
  await initBackend('wasm');
  const before = new Map(ortCalls);
  const wasm = await f();
  const routed = new Set([...ortCalls].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k]) => k));
  await initBackend('cpu');
  return { cpu, wasm, routed };
}

type Pad = 'same' | 'valid' | number;

describe('convolutions on onnxruntime equal the cpu reference', () => {
  // [x shape NHWC, filter HWIO, stride, pad, dilation]: MLAS's Conv (maps of 16×16 and more, or
  // 8×8 and more with under 64 channels) and im2col by Gather (the rest; 64 channels on an 8×8
  // map), the filter gradient from x transposed (few channels, wide maps) and by Gather, strides
  // (their input gradient by col2im, a kernel no larger than the stride included), odd sizes,
  // 'same' with uneven padding, 1×1, a dilated kernel, and ResNet's stem.
  const cases: [number[], number[], number, Pad, number][] = [
    [[2, 16, 16, 3], [3, 3, 3, 4], 1, 1, 1],
    [[2, 5, 5, 6], [3, 3, 6, 8], 1, 1, 1],
    [[2, 2, 2, 8], [3, 3, 8, 5], 1, 1, 1],
    [[3, 9, 7, 4], [3, 3, 4, 6], 2, 1, 1],
    [[2, 20, 18, 3], [7, 7, 3, 4], 2, 3, 1],
    [[2, 8, 8, 5], [3, 3, 5, 4], 2, 'same', 1],
    [[2, 6, 6, 5], [1, 1, 5, 7], 1, 'valid', 1],
    [[2, 7, 7, 3], [2, 2, 3, 4], 1, 'valid', 1],
    [[1, 17, 17, 2], [3, 3, 2, 3], 1, 'same', 2],
    [[2, 8, 8, 64], [3, 3, 64, 8], 1, 1, 1],
    [[2, 9, 9, 64], [3, 3, 64, 8], 2, 1, 1],
    [[2, 8, 8, 4], [2, 2, 4, 6], 2, 'valid', 1],
    [[2, 7, 7, 4], [1, 1, 4, 5], 2, 'valid', 1],
  ];
  for (const [xs, ws, stride, pad, dilation] of cases) {
    it(`conv2d [${xs.join(', ')}] * [${ws.join(', ')}] stride ${stride} pad ${pad} dilation ${dilation}: value, dx, dW`, async () => {
      const x = values(xs, 3);
      const w = values(ws, 5);
      const { cpu, wasm, routed } = await onBoth(async () => {
        const xt = tf.tensor4d(x.data, xs as [number, number, number, number]);
        const wt = tf.tensor4d(w.data, ws as [number, number, number, number]);
        const conv = (a: Tensor, b: Tensor) => tf.conv2d(a as Tensor4D, b as Tensor4D, stride, pad, 'NHWC', dilation);
        const y = conv(xt, wt);
        // tfjs has no gradient of a dilated convolution.
        if (dilation > 1) return [await read(y)];
        const up = values(y.shape, 7);
        const [dx, dw] = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(conv(a, b), tf.tensor(up.data, up.shape))))([
          xt,
          wt,
        ]);
        return Promise.all([read(y), read(dx), read(dw)]);
      });
      ['value', 'dx', 'dW'].slice(0, cpu.length).forEach((what, i) => assertClose(wasm[i], cpu[i], what));
      assert.ok(routed.has('Conv2D'), `onnxruntime ran the convolution (ran: ${[...routed].join(', ')})`);
      if (dilation === 1) {
        assert.ok(routed.has('Conv2DBackpropFilter'), 'onnxruntime ran the filter gradient');
        assert.ok(routed.has('Conv2DBackpropInput'), 'onnxruntime ran the input gradient');
      }
    });
  }

  // The model layers' convolutions (hand-written gradients that call onnxruntime's gradient kernels).
  for (const [xs, k, stride, pad, inputIsData] of [
    [[2, 9, 9, 4], 3, 1, 1, false],
    [[2, 9, 9, 4], 3, 2, 1, false],
    [[2, 12, 12, 3], 7, 2, 3, true],
    [[2, 10, 10, 64], 3, 2, 1, false],
    [[2, 9, 9, 8], 1, 2, 0, false],
  ] as const) {
    it(`layers.conv2d ${k}×${k} stride ${stride} on [${xs.join(', ')}]${inputIsData ? ' (input is data)' : ''}: value and gradients`, async () => {
      const x = values([...xs], 11);
      const w = values([k, k, xs[3], 6], 13);
      const { cpu, wasm } = await onBoth(async () => {
        const xt = tf.tensor4d(x.data, [...xs] as [number, number, number, number]);
        const wt = tf.tensor4d(w.data, w.shape as [number, number, number, number]);
        const f = (a: Tensor, b: Tensor) =>
          modelConv2d(a as Tensor4D, b as Tensor4D, { kernel: k, stride, pad }, inputIsData);
        const y = f(xt, wt);
        const up = values(y.shape, 17);
        const [dx, dw] = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(f(a, b), tf.tensor(up.data, up.shape))))([
          xt,
          wt,
        ]);
        return Promise.all([read(y), read(dx), read(dw)]);
      });
      ['value', 'dx', 'dW'].forEach((what, i) => assertClose(wasm[i], cpu[i], what));
    });
  }

  it('conv3x3 (the CNN’s): value and gradients', async () => {
    const x = values([3, 10, 10, 4], 19);
    const w = values([3, 3, 4, 5], 23);
    const { cpu, wasm, routed } = await onBoth(async () => {
      const xt = tf.tensor4d(x.data, [3, 10, 10, 4]);
      const wt = tf.tensor4d(w.data, [3, 3, 4, 5]);
      const y = conv3x3(xt, wt);
      const up = values(y.shape, 29);
      const [dx, dw] = tf.grads((a: Tensor, b: Tensor) =>
        tf.sum(tf.mul(conv3x3(a as Tensor4D, b as Tensor4D), tf.tensor(up.data, up.shape))),
      )([xt, wt]);
      return Promise.all([read(y), read(dx), read(dw)]);
    });
    ['value', 'dx', 'dW'].forEach((what, i) => assertClose(wasm[i], cpu[i], what));
    for (const k of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'])
      assert.ok(routed.has(k), `${k} on onnxruntime`);
  });
});

describe('products on onnxruntime equal the cpu reference', () => {
  // [a shape, b shape, transposeA, transposeB]: plain, each operand transposed, batches (equal,
  // broadcast from 1, and one matrix for a whole batch), rank 4 (attention's).
  const cases: [number[], number[], boolean, boolean][] = [
    [[7, 5], [5, 6], false, false],
    [[5, 7], [5, 6], true, false],
    [[7, 5], [6, 5], false, true],
    [[5, 7], [6, 5], true, true],
    [[3, 7, 5], [3, 5, 4], false, false],
    [[1, 7, 5], [3, 5, 4], false, false],
    [[3, 7, 5], [5, 4], false, false],
    [[2, 3, 6, 5], [2, 3, 6, 5], false, true],
    [[2, 3, 5, 6], [2, 3, 5, 4], true, false],
  ];
  for (const [as, bs, ta, tb] of cases) {
    it(`matMul [${as.join(', ')}]${ta ? 'ᵀ' : ''} · [${bs.join(', ')}]${tb ? 'ᵀ' : ''}: value and gradients`, async () => {
      const a = values(as, 31);
      const b = values(bs, 37);
      const { cpu, wasm, routed } = await onBoth(async () => {
        const at = tf.tensor(a.data, as);
        const bt = tf.tensor(b.data, bs);
        const y = tf.matMul(at, bt, ta, tb);
        // tfjs's gradient of a broadcast batch does not sum over the broadcast axis.
        if (as.length !== bs.length || as[0] !== bs[0]) return [await read(y)];
        const up = values(y.shape, 41);
        const [da, db] = tf.grads((p: Tensor, q: Tensor) =>
          tf.sum(tf.mul(tf.matMul(p, q, ta, tb), tf.tensor(up.data, up.shape))),
        )([at, bt]);
        return Promise.all([read(y), read(da), read(db)]);
      });
      ['value', 'da', 'db'].slice(0, cpu.length).forEach((what, i) => assertClose(wasm[i], cpu[i], what));
      assert.ok(routed.has('BatchMatMul'), 'onnxruntime ran the product');
    });
  }

  // [a, b, transposeB]: a batch of one (the dense layers'), and plain matrices with b transposed
  // (Gemm reads it transposed).
  for (const [as, bs, tb] of [
    [[1, 9, 6], [1, 6, 5], false],
    [[9, 6], [5, 6], true],
  ] as const)
    for (const activation of ['linear', 'relu'] as const) {
      it(`_FusedMatMul [${as.join(', ')}] · [${bs.join(', ')}]${tb ? 'ᵀ' : ''} with bias, ${activation}`, async () => {
        const a = values([...as], 43);
        const b = values([...bs], 47);
        const bias = values([5], 53);
        const { cpu, wasm, routed } = await onBoth(async () => [
          await read(
            tf.engine().runKernel<Tensor>(
              '_FusedMatMul',
              {
                a: tf.tensor(a.data, a.shape),
                b: tf.tensor(b.data, b.shape),
                bias: tf.tensor(bias.data, bias.shape),
              },
              { transposeA: false, transposeB: tb, activation },
            ),
          ),
        ]);
        assertClose(wasm[0], cpu[0], 'value');
        assert.ok(routed.has('_FusedMatMul'), 'onnxruntime ran the product');
      });
    }
});

describe("BatchNorm's channel sum on onnxruntime equals the cpu reference", () => {
  for (const shape of [
    [2, 5, 4, 3],
    [32, 16, 16, 64],
  ]) {
    it(`Σ over N, H, W of [${shape.join(', ')}], and BatchNorm's gradients through it`, async () => {
      const x = values(shape, 67);
      const { cpu, wasm, routed } = await onBoth(async () => {
        const xt = tf.tensor4d(x.data, shape as [number, number, number, number]);
        const bn = {
          weight: tf.variable(tf.linspace(0.5, 1.5, shape[3])),
          bias: tf.variable(tf.linspace(-0.2, 0.2, shape[3])),
          runningMean: tf.variable(tf.zeros([shape[3]])),
          runningVar: tf.variable(tf.ones([shape[3]])),
          numBatchesTracked: tf.variable(tf.scalar(0)),
        };
        const up = values(shape, 71);
        const f = (t: Tensor) => tf.sum(tf.mul(batchNorm(t as Tensor4D, bn, true), tf.tensor(up.data, up.shape)));
        const dx = tf.grad(f)(xt);
        return Promise.all([read(channelSum(xt)), read(dx), read(bn.runningVar)]);
      });
      ['Σ', 'BatchNorm dx', 'running variance'].forEach((what, i) => assertClose(wasm[i], cpu[i], what, 1e-4));
      assert.ok(routed.has('AftChannelSum'), 'onnxruntime ran the sums');
    });
  }
});

describe('the max-pool gradient on onnxruntime equals the cpu reference, ties included', () => {
  // Channels not in fours (in fours, the fused kernel takes the call: fusedKernels.test.ts).
  for (const [shape, filter, stride, pad] of [
    [[2, 9, 8, 5], 3, 2, 'same'],
    [[2, 8, 8, 3], 3, 2, 1],
    [[1, 7, 7, 2], 3, 1, 'valid'],
  ] as const) {
    it(`${filter}×${filter} stride ${stride} pad ${pad} on [${shape.join(', ')}]`, async () => {
      // Values rounded to halves: many exact ties, as ReLU zeros give; the first maximum wins.
      const x = values([...shape], 59);
      x.data.forEach((v, i) => (x.data[i] = Math.round(v * 4) / 2));
      const { cpu, wasm, routed } = await onBoth(async () => {
        const xt = tf.tensor4d(x.data, [...shape] as [number, number, number, number]);
        const pool = (t: Tensor) => tf.maxPool(t as Tensor4D, filter, stride, pad);
        const up = values(pool(xt).shape, 61);
        return [await read(tf.grad((t: Tensor) => tf.sum(tf.mul(pool(t), tf.tensor(up.data, up.shape))))(xt))];
      });
      // Overlapping windows add in another order; a maximum chosen differently would differ by O(1).
      assertClose(wasm[0], cpu[0], 'dx', 1e-6);
      assert.ok(routed.has('MaxPoolGrad'), 'onnxruntime ran the gradient');
    });
  }
});
