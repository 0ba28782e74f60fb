/** Optimisers, schedules, step planning and statistics: small facts that training relies on. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ADAM, fusedCalls } from '../../sidecar/src/runtime/fusedKernels';
import { initBackend, tf, type Tensor, type Variable } from '../../sidecar/src/runtime/tf';
import { plannedSteps } from '../../sidecar/src/train/job';
import { Optimizer, scheduleFactor, type OptimizerKind } from '../../sidecar/src/train/optimizer';
import { meanSe } from '../../sidecar/src/train/stats';

function minimise(kind: OptimizerKind, lr: number, steps: number, weightDecay = 0): number[] {
  const p = tf.variable(tf.tensor1d([3, -2]));
  const target = tf.tensor1d([1, 1]);
  const opt = new Optimizer(kind, [{ params: [p], lr, weightDecay }]);
  for (let i = 0; i < steps; i++) {
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(p, target))), [p]);
    opt.apply(new Map<Variable, Tensor>([[p, grads[p.name]]]), 1);
    tf.dispose(grads);
  }
  return Array.from(p.dataSync());
}

/**
 * The per-parameter Adam/SGD of PyTorch written out (one parameter at a time, float32 tensor ops
 * in the order the optimiser uses them): the fused flat update must give the same numbers.
 */
function referenceSteps(
  kind: OptimizerKind,
  init: Float32Array[],
  shapes: number[][],
  gradsPerStep: (Float32Array | undefined)[][],
  lr: number,
  weightDecay: number,
): Float32Array[] {
  return tf.tidy(() => {
    const ps = init.map((x, i) => tf.tensor(x, shapes[i]));
    const ms = ps.map((p) => tf.zerosLike(p));
    const vs = ps.map((p) => tf.zerosLike(p));
    const t = ps.map(() => 0);
    for (const grads of gradsPerStep) {
      grads.forEach((g, i) => {
        if (!g) return;
        const grad = tf.tensor(g, shapes[i]);
        t[i]++;
        let update: Tensor;
        if (kind === 'adam') {
          ms[i] = tf.add(tf.mul(ms[i], 0.9), tf.mul(grad, 1 - 0.9));
          vs[i] = tf.add(tf.mul(vs[i], 0.999), tf.mul(tf.square(grad), 1 - 0.999));
          update = tf.div(
            tf.mul(ms[i], lr / (1 - 0.9 ** t[i])),
            tf.add(tf.sqrt(tf.div(vs[i], 1 - 0.999 ** t[i])), 1e-8),
          );
        } else {
          ms[i] = tf.add(tf.mul(ms[i], 0.9), grad);
          update = tf.mul(ms[i], lr);
        }
        if (weightDecay > 0) update = tf.add(update, tf.mul(ps[i], lr * weightDecay));
        ps[i] = tf.sub(ps[i], update);
      });
    }
    return ps.map((p) => p.dataSync() as Float32Array);
  });
}

describe('optimiser and schedule', () => {
  before(async () => {
    await initBackend('cpu');
  });

  for (const [kind, lr] of [
    ['adam', 0.05],
    ['sgd', 0.05],
  ] as const) {
    it(`${kind} reaches the minimum of a quadratic`, () => {
      const [a, b] = minimise(kind, lr, 400);
      assert.ok(Math.abs(a - 1) < 1e-2 && Math.abs(b - 1) < 1e-2, `ended at ${a}, ${b}`);
    });
  }

  // Four parameters of different shapes (one of 5 elements: the fused kernel's scalar tail); on one
  // step one has no gradient (KD's map at β = 0, a ρ-only step), so step counts differ and the flat
  // state is updated piecewise. Runs of at most 20 elements put the 12 and 4 element parameters in
  // one flat update, the 8 and 5 in another. On the wasm backend Adam's flat update is the fused
  // kernel (runtime/fusedKernels.ts), which must give the ops' numbers to the bit.
  for (const backend of ['cpu', 'wasm'] as const)
    for (const [kind, weightDecay, chunk] of [
      ['adam', 0, undefined],
      ['adam', 0.1, undefined],
      ['sgd', 0, undefined],
      ['sgd', 0.1, undefined],
      ['adam', 0.1, 20],
    ] as const) {
      it(`${backend}: ${kind}${weightDecay ? ' with weight decay' : ''}${chunk ? `, in runs of ${chunk} elements` : ''}: the flat update equals the per-parameter one`, async () => {
        await initBackend(backend);
        const shapes = [[3, 4], [4], [2, 2, 2], [5]];
        let seed = 1;
        const rand = (n: number): Float32Array =>
          Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
        const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
        const init = shapes.map((sh) => rand(size(sh)));
        const steps = [0, 1, 2, 3, 4].map((k) =>
          shapes.map((sh, i) => (k === 2 && i === 1 ? undefined : rand(size(sh)))),
        );
        const want = referenceSteps(kind, init, shapes, steps, 0.01, weightDecay);
        const params = init.map((x, i) => tf.variable(tf.tensor(x, shapes[i])));
        const opt = new Optimizer(kind, [{ params, lr: 0.01, weightDecay }], chunk);
        const fusedBefore = fusedCalls.get(ADAM) ?? 0;
        for (const grads of steps) {
          const map = new Map<Variable, Tensor>();
          grads.forEach((g, i) => g && map.set(params[i], tf.tensor(g, shapes[i])));
          opt.apply(map, 1);
          tf.dispose([...map.values()]);
        }
        params.forEach((p, i) => assert.deepEqual(p.shape, shapes[i]));
        params.forEach((p, i) => assert.deepEqual(Array.from(p.dataSync()), Array.from(want[i]), `parameter ${i}`));
        const fused = (fusedCalls.get(ADAM) ?? 0) - fusedBefore;
        assert.equal(fused > 0, backend === 'wasm' && kind === 'adam', `fused Adam ran ${fused} times`);
        opt.dispose();
        tf.dispose(params);
        await initBackend('cpu');
      });
    }

  it('decoupled weight decay pulls the solution toward 0', () => {
    const [a] = minimise('adam', 0.05, 400, 0.5);
    assert.ok(a < 0.95, `weight decay had no effect (${a})`);
  });

  it('cosine schedule goes from 1 to 0; constant stays 1', () => {
    assert.equal(scheduleFactor('cosine', 0, 100), 1);
    assert.ok(Math.abs(scheduleFactor('cosine', 50, 100) - 0.5) < 1e-12);
    assert.ok(scheduleFactor('cosine', 100, 100) < 1e-12);
    assert.equal(scheduleFactor('constant', 70, 100), 1);
  });

  const planCases: [number, number, number, number, number][] = [
    // n, batch, steps → total, per epoch
    [500, 128, 1000, 1000, 4],
    [450, 128, 1000, 1000, 4],
    [96, 16, 20, 24, 6],
    [10, 128, 7, 7, 1],
  ];
  for (const [n, batch, steps, total, perEpoch] of planCases) {
    it(`${steps} steps over ${n} examples at batch ${batch} round up to ${total} (whole epochs)`, () => {
      assert.deepEqual(plannedSteps(n, batch, steps), { total, perEpoch });
    });
  }

  it('mean ± standard error', () => {
    const r = meanSe([0.8, 0.9, 1.0]);
    assert.ok(Math.abs(r.mean - 0.9) < 1e-12);
    assert.ok(Math.abs(r.se - 0.1 / Math.sqrt(3)) < 1e-12);
    assert.deepEqual(meanSe([0.5]), { mean: 0.5, se: 0 });
  });
});
