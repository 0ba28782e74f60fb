/**
 * The wasm backend's repaired kernels (runtime/wasmKernels.ts: Identity, MaxPoolGrad, Slice, BatchMatMul) give what tfjs-backend-cpu's
 * reference kernels give, ties included, and the CNN block's reordering (bias and relu after the
 * pool) changes neither its values nor its gradients.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelBias, conv3x3 } from '../../sidecar/src/models/layers';
import { initBackend, tf, type Tensor, type Tensor4D } from '../../sidecar/src/runtime/tf';

interface Arr {
  shape: number[];
  data: Float32Array;
}

const read = (t: Tensor): Arr => ({ shape: t.shape, data: t.dataSync() as Float32Array });

/** Values from a seeded stream rounded to halves: many exact ties, as ReLU zeros and flat image regions give. */
function tiedValues(shape: number[], seed: number): Arr {
  let s = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from(
    { length: n },
    () => Math.round((((s = (s * 16807) % 2147483647) / 2147483647) * 6 - 3) * 2) / 2,
  );
  return { shape, data };
}

function assertEqualArrays(got: Arr, want: Arr, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const diff = Math.max(0, ...Array.from(got.data, (v, i) => Math.abs(v - want.data[i])));
  assert.ok(diff === 0, `${what}: differs by ${diff}`);
}

describe('repaired wasm kernels equal the cpu reference', () => {
  // [input shape, filter, stride, pad]: the CNN's 2x2 pools (even and odd sizes) and ResNet's
  // stem pool (3x3, stride 2, overlapping windows).
  for (const [shape, filter, stride, pad] of [
    [[3, 8, 6, 5], 2, 2, 'valid'],
    [[2, 7, 9, 3], 2, 2, 'valid'],
    [[2, 9, 8, 4], 3, 2, 'same'],
    [[2, 6, 6, 2], 3, 1, 'valid'],
  ] as const) {
    it(`MaxPoolGrad ${filter}x${filter} stride ${stride} ${pad} on [${shape.join(', ')}], ties included`, async () => {
      const x = tiedValues([...shape], 7);
      const outShape = await (async () => {
        await initBackend('cpu');
        return tf.maxPool(tf.tensor4d(x.data, [...shape]), filter, stride, pad).shape;
      })();
      const up = tiedValues(outShape, 11);
      const results: Arr[] = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend(backend);
        const g = tf.grad((xx: Tensor) =>
          tf.sum(tf.mul(tf.maxPool(xx as Tensor4D, filter, stride, pad), tf.tensor(up.data, up.shape))),
        )(tf.tensor(x.data, x.shape));
        results.push(read(g));
      }
      assertEqualArrays(results[1], results[0], 'wasm against cpu');
      await initBackend('cpu');
    });
  }

  // Contiguous and strided slices of ranks 1 to 5, whole trailing axes, an empty slice, and int32.
  for (const [shape, begin, size, dtype] of [
    [[20], [3], [11], 'float32'],
    [[6, 5], [2, 0], [3, 5], 'float32'],
    [[6, 5], [1, 2], [4, 2], 'int32'],
    [[4, 5, 6], [1, 0, 2], [2, 5, 3], 'float32'],
    [[3, 4, 5, 6], [1, 1, 0, 0], [2, 2, 5, 6], 'float32'],
    [[3, 4, 5, 6], [0, 1, 2, 3], [3, 3, 2, 2], 'float32'],
    [[2, 3, 2, 3, 4], [1, 0, 1, 1, 1], [1, 3, 1, 2, 2], 'float32'],
    [[4, 5], [1, 1], [0, 3], 'float32'],
  ] as const) {
    it(`Slice ${dtype} [${shape.join(', ')}] from [${begin.join(', ')}] size [${size.join(', ')}]`, async () => {
      const n = shape.reduce((a: number, b: number) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => i * 3 - 7);
      const results: Arr[] = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend(backend);
        const t = tf.slice(tf.tensor(values, [...shape], dtype), [...begin], [...size]);
        results.push({ shape: t.shape, data: Float32Array.from(t.dataSync()) });
      }
      assertEqualArrays(results[1], results[0], 'wasm against cpu');
      await initBackend('cpu');
    });
  }

  // Batches times batches, a batch times one matrix (either side), transposed flags, and
  // tfjs's own gradients of a batched product (which take the transposed flags; tfjs-core's
  // gradient does not sum over broadcast batches, so those cases check the value only).
  for (const [sa, sb, ta, tb] of [
    [[2, 3, 5, 4], [2, 3, 4, 6], false, false],
    [[2, 3, 4, 5], [2, 3, 4, 6], true, false],
    [[2, 3, 5, 4], [2, 3, 6, 4], false, true],
    [[2, 3, 4, 5], [2, 3, 6, 4], true, true],
    [[4, 5, 4], [4, 6], false, false],
    [[5, 4], [3, 4, 6], false, false],
    [[4, 5], [4, 6], true, false],
    [[5, 4], [6, 4], false, true],
    [[7, 4], [4, 3], false, false],
  ] as const) {
    it(`BatchMatMul [${sa.join(', ')}]${ta ? 'ᵀ' : ''} × [${sb.join(', ')}]${tb ? 'ᵀ' : ''}: value and gradients`, async () => {
      const results: Arr[][] = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await initBackend(backend);
        const a = tf.tensor(tiedValues([...sa], 3).data, [...sa]);
        const b = tf.tensor(tiedValues([...sb], 5).data, [...sb]);
        const f = (x: Tensor, y: Tensor): Tensor => tf.matMul(x, y, ta, tb);
        const y = f(a, b);
        const up = tf.tensor(tiedValues(y.shape, 9).data, y.shape);
        const grads =
          sa.length === sb.length ? tf.grads((x: Tensor, w: Tensor) => tf.sum(tf.mul(f(x, w), up)))([a, b]) : [];
        results.push([read(y), ...grads.map(read)]);
      }
      // Sums of products of halves in [-3, 3]: exact in float32 whatever the order.
      ['value', 'gradient of a', 'gradient of b']
        .slice(0, results[0].length)
        .forEach((what, i) => assertEqualArrays(results[1][i], results[0][i], `wasm against cpu, ${what}`));
      await initBackend('cpu');
    });
  }

  it('Identity (tfjs clones what a gradient saves) shares the data and keeps it until both are disposed', async () => {
    await initBackend('wasm');
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const before = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    assert.equal(tf.memory().numDataBuffers, before, 'the clone copied its data');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
    y.dispose();
    await initBackend('cpu');
  });
});

describe("the CNN block's order: relu(maxPool(conv) + b) equals maxPool(relu(conv + b))", () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`values and the gradients of x, W and b, on ${backend}, with flat (tied) regions`, async () => {
      await initBackend(backend);
      // Zero rows and columns: their convolution is 0 everywhere, so pools see 4-way ties.
      const x = tf.tidy(() => {
        const t = tiedValues([2, 6, 6, 3], 3);
        const mask = Float32Array.from(t.data, (v, i) =>
          Math.floor(i / 3) % 6 < 3 || Math.floor(i / 18) % 6 < 2 ? 0 : v,
        );
        return tf.tensor4d(mask, [2, 6, 6, 3]);
      });
      const w = tf.tensor4d(tiedValues([3, 3, 3, 4], 5).data, [3, 3, 3, 4]);
      const b = tf.tensor([0.5, -0.5, 0, 1], [4]);
      const up = tf.tensor(tiedValues([2, 3, 3, 4], 9).data, [2, 3, 3, 4]);
      const ours = (xx: Tensor, ww: Tensor, bb: Tensor): Tensor =>
        tf.relu(channelBias(tf.maxPool(conv3x3(xx as Tensor4D, ww as Tensor4D), 2, 2, 'valid'), bb));
      const theirs = (xx: Tensor, ww: Tensor, bb: Tensor): Tensor =>
        tf.maxPool(tf.relu(tf.add(conv3x3(xx as Tensor4D, ww as Tensor4D), bb)), 2, 2, 'valid');
      assertEqualArrays(read(ours(x, w, b)), read(theirs(x, w, b)), 'value');
      const loss = (f: typeof ours) => (xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(f(xx, ww, bb), up));
      const g1 = tf.grads(loss(ours))([x, w, b]).map(read);
      const g2 = tf.grads(loss(theirs))([x, w, b]).map(read);
      ['x', 'W', 'b'].forEach((what, i) => {
        const diff = Math.max(...Array.from(g1[i].data, (v, j) => Math.abs(v - g2[i].data[j])));
        assert.ok(diff < 1e-4, `gradient of ${what} differs by ${diff}`);
      });
      await initBackend('cpu');
    });
  }
});
