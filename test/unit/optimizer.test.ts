/** Optimisers, schedules, step planning and statistics: small facts that training relies on. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
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
