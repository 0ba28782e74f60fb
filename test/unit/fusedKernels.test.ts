/**
 * The wasm backend's fused kernels (runtime/fusedKernels.ts): the committed module is what its
 * WebAssembly text assembles to, and BatchNorm on them (training: value, running statistics and
 * gradients; evaluation and frozen: the affine map and its gradients) and the max-pool gradient
 * give what tfjs-backend-cpu's ops give, with each case checking which kernels ran: fused where
 * the channels come in fours, the ops (or the kernel before) otherwise. Adam's fused update is checked against the ops in optimizer.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { batchNorm, type BatchNorm } from '../../sidecar/src/models/batchNorm';
import {
  BN_APPLY,
  BN_GRAD,
  BN_GRAD_SUMS,
  BN_RUNNING,
  BN_STATS,
  fusedCalls,
  RELU_GRAD,
} from '../../sidecar/src/runtime/fusedKernels';
import { relu } from '../../sidecar/src/models/layers';
import { initBackend, tf, type Tensor, type Tensor4D } from '../../sidecar/src/runtime/tf';

/** Seeded values in [lo, lo + 2). */
function values(n: number, seed: number, lo = -1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 + lo);
}

function assertClose(got: Float32Array, want: Float32Array, what: string, tol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1e-6;
  let diff = 0;
  want.forEach((v, i) => {
    scale = Math.max(scale, Math.abs(v));
    diff = Math.max(diff, Math.abs(got[i] - v));
  });
  assert.ok(diff / scale <= tol, `${what}: differs by ${diff} (relative ${(diff / scale).toExponential(2)})`);
}

it('kernels.wasm.ts is what kernels.wat assembles to (node scripts/build-fused-kernels.mjs)', () => {
  const script = path.join(__dirname, '..', '..', 'scripts', 'build-fused-kernels.mjs');
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

/** `run` on the cpu backend, then on wasm: both results and whether `kernel` ran on wasm. */
async function cpuThenWasm<T>(kernel: string, run: () => T): Promise<{ want: T; got: T; ran: boolean }> {
  await initBackend('cpu');
  const want = run();
  await initBackend('wasm');
  const before = fusedCalls.get(kernel) ?? 0;
  const got = run();
  const ran = (fusedCalls.get(kernel) ?? 0) > before;
  await initBackend('cpu');
  return { want, got, ran };
}

type Mode = 'train' | 'eval' | 'frozen';

/** One BatchNorm step: the output, the running statistics after it, and dx, dγ, dβ of Σ y·up. */
function bnStep(shape: number[], mode: Mode): Float32Array[] {
  const c = shape[3];
  const size = shape.reduce((a, b) => a * b, 1);
  // A mean far from 0 next to a small spread, where x − μ must be formed before it is squared
  // (the sums of 40s in float32, in another order on each backend, set the tolerance).
  const x = tf.tensor4d(values(size, 3, 40), shape as [number, number, number, number]);
  const up = tf.tensor4d(values(size, 5), shape as [number, number, number, number]);
  const bn: BatchNorm = {
    weight: tf.variable(tf.tensor1d(values(c, 7, 0.5))),
    bias: tf.variable(tf.tensor1d(values(c, 11))),
    runningMean: tf.variable(tf.tensor1d(values(c, 13, 39))),
    runningVar: tf.variable(tf.tensor1d(values(c, 17, 0.5))),
    numBatchesTracked: tf.variable(tf.scalar(0)),
  };
  const f = (xx: Tensor, w: Tensor, b: Tensor): Tensor =>
    batchNorm(xx as Tensor4D, { ...bn, weight: w as never, bias: b as never }, mode !== 'eval' && mode !== 'frozen');
  const y = f(x, bn.weight, bn.bias);
  const grads = tf.grads((xx: Tensor, w: Tensor, b: Tensor) => tf.sum(tf.mul(f(xx, w, b), up)))([
    x,
    bn.weight,
    bn.bias,
  ]);
  const out = [y, bn.runningMean, bn.runningVar, ...grads].map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, up, y, ...grads, ...(Object.values(bn) as Tensor[])]);
  return out;
}

describe('BatchNorm on the fused kernels equals the cpu ops', () => {
  // [shape, mode]: rows past one 256-row block of partial sums and not a multiple of it, one row
  // per channel short of a block, and channels not in fours (the ops).
  const cases: [number[], Mode, boolean][] = [
    [[3, 20, 20, 8], 'train', true],
    [[2, 4, 4, 12], 'train', true],
    [[4, 8, 8, 4], 'eval', true],
    [[4, 8, 8, 4], 'frozen', true],
    [[2, 5, 5, 6], 'train', false],
  ];
  for (const [shape, mode, fused] of cases) {
    it(`${mode} on [${shape.join(', ')}]${fused ? '' : ' (channels not in fours: the ops)'}`, async () => {
      await initBackend('cpu');
      const want = bnStep(shape, mode);
      await initBackend('wasm');
      const before = new Map(fusedCalls);
      const got = bnStep(shape, mode);
      const ran = [BN_APPLY, BN_STATS, BN_GRAD, BN_RUNNING, BN_GRAD_SUMS].filter(
        (k) => (fusedCalls.get(k) ?? 0) > (before.get(k) ?? 0),
      );
      await initBackend('cpu');
      const expected = !fused
        ? []
        : mode === 'train'
          ? [BN_APPLY, BN_STATS, BN_GRAD, BN_RUNNING]
          : [BN_APPLY, BN_GRAD_SUMS];
      assert.deepEqual(ran, expected, 'fused kernels that ran');
      ['y', 'running mean', 'running var', 'dx', 'dγ', 'dβ'].forEach((what, i) =>
        assertClose(got[i], want[i], what, 1e-4),
      );
    });
  }
});

describe("ReLU's gradient on the fused kernel equals the cpu ops", () => {
  // Zeros in the input (no gradient passes at 0, as tfjs's step), sizes in fours and not (the ops).
  for (const [shape, fused] of [
    [[3, 5, 4], true],
    [[7], false],
  ] as [number[], boolean][]) {
    it(`[${shape.join(', ')}]${fused ? '' : ' (size not in fours: the ops)'}`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = values(size, 19).map((v, i) => (i % 5 === 0 ? 0 : v));
      const up = values(size, 23);
      const run = (): Float32Array[] => {
        const xt = tf.tensor(x, shape);
        const upt = tf.tensor(up, shape);
        const [y, dx] = [relu(xt), tf.grad((t: Tensor) => tf.sum(tf.mul(relu(t), upt)))(xt)];
        const out = [y, dx].map((t) => t.dataSync() as Float32Array);
        tf.dispose([xt, upt, y, dx]);
        return out;
      };
      const { want, got, ran } = await cpuThenWasm(RELU_GRAD, run);
      assert.equal(ran, fused, 'the fused kernel ran');
      assert.deepEqual(got[0], want[0], 'y');
      assert.deepEqual(got[1], want[1], 'dx');
    });
  }
});

describe('the max-pool gradient on the fused kernel equals the cpu reference, ties included', () => {
  // ResNet's stem pool (3×3, stride 2, padded), the CNN's 2×2 pools (even and odd sizes), a
  // stride-1 pool, and channels not in fours (the kernel before it).
  const cases: [number[], number, number, 'same' | 'valid' | number, boolean][] = [
    [[2, 9, 8, 8], 3, 2, 'same', true],
    [[2, 8, 8, 4], 3, 2, 1, true],
    [[3, 8, 6, 4], 2, 2, 'valid', true],
    [[2, 7, 9, 12], 2, 2, 'valid', true],
    [[2, 6, 6, 8], 3, 1, 'valid', true],
    [[2, 6, 6, 6], 3, 2, 'same', false],
  ];
  for (const [shape, filter, stride, pad, fused] of cases) {
    it(`${filter}×${filter} stride ${stride} pad ${pad} on [${shape.join(', ')}]`, async () => {
      // Values rounded to halves: many exact ties, as ReLU zeros give; the first maximum wins.
      const size = shape.reduce((a, b) => a * b, 1);
      const x = values(size, 19).map((v) => Math.round(v * 4) / 2);
      const grad = (): Float32Array => {
        const xt = tf.tensor4d(x, shape as [number, number, number, number]);
        const pool = (t: Tensor) => tf.maxPool(t as Tensor4D, filter, stride, pad);
        const up = pool(xt);
        const upv = tf.tensor(values(up.size, 23), up.shape);
        return tf
          .grad((t: Tensor) => tf.sum(tf.mul(pool(t), upv)))(xt)
          .dataSync() as Float32Array;
      };
      const { want, got, ran } = await cpuThenWasm('MaxPoolGrad', grad);
      assert.equal(ran, fused, 'the fused kernel ran');
      // Overlapping windows add in another order; a maximum chosen differently would differ by O(1).
      assertClose(got, want, 'dx', 1e-6);
    });
  }
});

describe('Sum and Mean over leading axes on the fused kernel equal the cpu reference', () => {
  // [shape, axes, keepDims, fused]: a bias gradient (Σ over the batch), two leading axes of three
  // (LayerNorm's over batch and tokens) kept as ones, more than 256 rows (blocks of partial sums),
  // and what stays on tfjs's kernel: trailing sizes not in fours, a trailing axis, every axis.
  const cases: [number[], number[], boolean, boolean][] = [
    [[128, 64], [0], false, true],
    [[4, 5, 8], [0, 1], true, true],
    [[700, 12], [0], false, true],
    [[6, 6], [0], false, false],
    [[3, 8], [1], false, false],
    [[4, 8], [0, 1], false, false],
  ];
  for (const op of ['Sum', 'Mean'] as const)
    for (const [shape, axes, keepDims, fused] of cases) {
      it(`${op} of [${shape.join(', ')}] over [${axes.join(', ')}]${keepDims ? ', dims kept' : ''}`, async () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const x = values(size, 29);
        const reduce = (): { shape: number[]; data: Float32Array } => {
          const t = tf.tensor(x, shape);
          const y = op === 'Sum' ? tf.sum(t, axes, keepDims) : tf.mean(t, axes, keepDims);
          return { shape: y.shape, data: y.dataSync() as Float32Array };
        };
        const { want, got, ran } = await cpuThenWasm(op, reduce);
        assert.equal(ran, fused, 'the fused kernel ran');
        assert.deepEqual(got.shape, want.shape, 'shape');
        assertClose(got.data, want.data, op, 1e-6);
      });
    }
});
