/** Linear probe, its softmax-regression objective and the L-BFGS optimiser under it. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { minimizeLbfgs } from '../../../sidecar/src/methods/lbfgs';
import { linearProbe, rawLogisticProbe, type ProbeData } from '../../../sidecar/src/methods/probe';
import { fitSoftmax, paramCount, type Design } from '../../../sidecar/src/methods/softmaxRegression';
import { initBackend } from '../../../sidecar/src/runtime/tf';
import { AftError } from '../../../core/common/util/errors';
import { Rng } from '../../../sidecar/src/util/rng';

/** Gaussian blobs: class c centred at `separation`·e_c (+ an offset) in `dim` dimensions. */
function blobs(
  seed: number,
  rows: number,
  dim: number,
  classes: number,
  separation: number,
  scale = 1,
  offset = 0,
): ProbeData & { features: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const features = new Float32Array(rows * dim);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < dim; j++) features[i * dim + j] = scale * (rng.normal() + (j === c ? separation : 0)) + offset;
  }
  return { features, labels, rows };
}

describe('minimizeLbfgs', () => {
  it('finds the minimum of an ill-conditioned quadratic', async () => {
    const diag = [1, 10, 100, 1000];
    const r = await minimizeLbfgs(
      (x, g) => {
        let f = 0;
        x.forEach((v, i) => {
          f += 0.5 * diag[i] * (v - i) ** 2;
          g[i] = diag[i] * (v - i);
        });
        return f;
      },
      new Float64Array(4),
      { gradTol: 1e-10, valueTol: 0 },
    );
    assert.equal(r.converged, true);
    r.x.forEach((v, i) => assert.ok(Math.abs(v - i) < 1e-9, `x[${i}] = ${v}`));
  });

  it('finds the minimum of the Rosenbrock function', async () => {
    const r = await minimizeLbfgs(
      (x, g) => {
        const [a, b] = [x[0], x[1]];
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.of(-1.2, 1),
      { gradTol: 1e-8, valueTol: 0 },
    );
    assert.equal(r.converged, true);
    assert.ok(Math.abs(r.x[0] - 1) < 1e-6 && Math.abs(r.x[1] - 1) < 1e-6, `${r.x[0]}, ${r.x[1]}`);
  });
});

describe('linear probe', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('fits softmax regression to a stationary point of the penalised loss', async () => {
    const data = blobs(4, 120, 5, 3, 1.5);
    const d: Design = { x: data.features, rows: 120, dim: 5, labels: data.labels, numClasses: 3 };
    const l2 = 0.01;
    const r = await fitSoftmax(d, l2);
    assert.equal(r.converged, true);
    assert.equal(r.x.length, paramCount(5, 3));
    // At the optimum, each class's bias gradient Σ_i (p_ic − y_ic) is zero: predicted class
    // frequencies match the observed ones (intercepts are not penalised).
    const freq = [0, 0, 0];
    for (let i = 0; i < 120; i++) {
      const z = [0, 1, 2].map(
        (c) => r.x[15 + c] + [0, 1, 2, 3, 4].reduce((s, j) => s + d.x[i * 5 + j] * r.x[j * 3 + c], 0),
      );
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, c) => (freq[c] += v / sum));
    }
    freq.forEach((f) => assert.ok(Math.abs(f - 40) < 1e-2, `predicted class count ${f}, observed 40`));
  });

  it('separates well-separated classes almost perfectly', async () => {
    const r = await linearProbe(blobs(1, 400, 12, 4, 6), blobs(2, 200, 12, 4, 6), 12);
    assert.ok(r.testAccuracy >= 0.99, `test accuracy ${r.testAccuracy}`);
    assert.ok(r.trainAccuracy >= 0.99);
    // Every λ is perfect on the holdout, and a tie goes to the strongest penalty.
    assert.ok(r.grid.every((g) => g.holdoutAccuracy === 1));
    assert.equal(r.l2, 0.1);
  });

  it('stays near chance on pure noise features', async () => {
    const r = await linearProbe(blobs(3, 400, 12, 4, 0), blobs(4, 2000, 12, 4, 0), 12);
    assert.ok(Math.abs(r.testAccuracy - 0.25) < 0.05, `test accuracy ${r.testAccuracy}`);
    assert.ok(r.grid.length === 5 && r.grid.every((g) => g.converged));
  });

  it('chooses λ on the training holdout only: the test set cannot change the choice', async () => {
    const train = blobs(5, 300, 20, 3, 1);
    const a = await linearProbe(train, blobs(6, 100, 20, 3, 1), 20);
    const b = await linearProbe(train, blobs(7, 100, 20, 3, -1), 20);
    assert.equal(a.l2, b.l2);
    assert.deepEqual(a.grid, b.grid);
    const best = Math.max(...a.grid.map((g) => g.holdoutAccuracy));
    assert.equal(a.grid.find((g) => g.l2 === a.l2)!.holdoutAccuracy, best);
  });

  it('gives the same answer for features at any scale and offset (standardisation)', async () => {
    const plain = await linearProbe(blobs(8, 300, 6, 3, 1.2), blobs(9, 300, 6, 3, 1.2), 6);
    // Unstandardised, features 1000× smaller would need 1000× larger weights, which the
    // penalty forbids.
    const scaled = await linearProbe(blobs(8, 300, 6, 3, 1.2, 1e-3, 50), blobs(9, 300, 6, 3, 1.2, 1e-3, 50), 6);
    assert.equal(scaled.l2, plain.l2);
    assert.ok(
      Math.abs(scaled.testAccuracy - plain.testAccuracy) <= 1 / 300,
      `${scaled.testAccuracy} vs ${plain.testAccuracy}`,
    );
  });

  it('uses a fixed holdout split that the seed changes', async () => {
    const train = blobs(10, 200, 8, 2, 0.5);
    const test = blobs(11, 50, 8, 2, 0.5);
    assert.deepEqual((await linearProbe(train, test, 8)).grid, (await linearProbe(train, test, 8)).grid);
    assert.notDeepEqual(
      (await linearProbe(train, test, 8, { splitSeed: 1 })).grid,
      (await linearProbe(train, test, 8)).grid,
    );
  });

  const data = blobs(12, 20, 3, 2, 1);
  const bad: { name: string; run: () => Promise<unknown>; message: RegExp }[] = [
    {
      name: 'mismatched feature counts',
      run: () => linearProbe(data, data, 4),
      message: /training features have 60 values, expected 20×4/,
    },
    {
      name: 'a NaN feature',
      run: () => linearProbe({ ...data, features: data.features.map((v, i) => (i === 7 ? NaN : v)) }, data, 3),
      message: /feature 1 of row 2 is NaN/,
    },
    {
      name: 'a negative label',
      run: () => linearProbe(data, { ...data, labels: data.labels.map((l, i) => (i === 3 ? -1 : l)) }, 3),
      message: /test label of row 3 is -1/,
    },
    {
      name: 'a label beyond numClasses',
      run: () => linearProbe(data, data, 3, { numClasses: 1 }),
      message: /label 1 is out of range/,
    },
    { name: 'an empty grid', run: () => linearProbe(data, data, 3, { l2Grid: [] }), message: /grid must be non-empty/ },
    {
      name: 'too few rows to hold out',
      run: () => linearProbe({ features: data.features.subarray(0, 3), labels: [0], rows: 1 }, data, 3),
      message: /too few/,
    },
  ];
  for (const b of bad) {
    it(`rejects ${b.name}`, async () => {
      await assert.rejects(
        b.run,
        (e: unknown) => e instanceof AftError && e.code === 'bad_input' && b.message.test(e.message),
      );
    });
  }
});

/**
 * Two classes told apart by the first `informative` features at scale `small`, among `noisy`
 * features of pure noise at scale `big`: the case where a probe that sees scales and one that
 * standardises disagree.
 */
function scaled(seed: number, rows: number, informative: number, noisy: number, small: number, big: number) {
  const rng = new Rng(seed);
  const dim = informative + noisy;
  const features = new Float32Array(rows * dim);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < dim; j++)
      features[i * dim + j] = j < informative ? small * (rng.normal() + (labels[i] ? 1.5 : -1.5)) : big * rng.normal();
  }
  return { features, labels, rows, dim };
}

/** ψ ⊙ ρ with ρ = `keep` on the first `n` features and `drop` on the rest. */
function weight<T extends { features: Float32Array; dim: number }>(d: T, n: number, keep: number, drop: number): T {
  return { ...d, features: d.features.map((v, i) => v * (i % d.dim < n ? keep : drop)) };
}

describe('logistic regression on raw features (fig. 6a probe)', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('sees feature scales: ψ ⊙ ρ that keeps the informative features beats ψ; the linear probe cannot tell them apart', async (t) => {
    const train = scaled(1, 200, 2, 30, 0.01, 2);
    const test = scaled(2, 400, 2, 30, 0.01, 2);
    const [trainW, testW] = [weight(train, 2, 1, 0.02), weight(test, 2, 1, 0.02)];
    const raw = await rawLogisticProbe(train, test, train.dim);
    const rawW = await rawLogisticProbe(trainW, testW, train.dim);
    t.diagnostic(`raw probe: ψ ${raw.testAccuracy}, ψ⊙ρ ${rawW.testAccuracy}`);
    assert.ok(raw.converged && rawW.converged);
    assert.ok(
      rawW.testAccuracy > raw.testAccuracy + 0.1,
      `ψ⊙ρ ${rawW.testAccuracy} is not clearly above ψ ${raw.testAccuracy}`,
    );
    // The standardised probe undoes any per-feature scale: the same accuracy on both.
    const lin = await linearProbe(train, test, train.dim);
    const linW = await linearProbe(trainW, testW, train.dim);
    assert.ok(
      Math.abs(lin.testAccuracy - linW.testAccuracy) <= 1 / test.rows,
      `${lin.testAccuracy} vs ${linW.testAccuracy}`,
    );
  });

  it('is deterministic: the same data give the same model bit for bit', async () => {
    const train = scaled(3, 120, 2, 10, 0.1, 1);
    const test = scaled(4, 60, 2, 10, 0.1, 1);
    const a = await rawLogisticProbe(train, test, train.dim);
    const b = await rawLogisticProbe(train, test, train.dim);
    assert.deepEqual(a.theta, b.theta);
    assert.equal(a.testAccuracy, b.testAccuracy);
  });

  it('a larger C (weaker penalty) recovers the small informative features', async () => {
    const train = scaled(5, 200, 2, 30, 0.05, 2);
    const test = scaled(6, 400, 2, 30, 0.05, 2);
    const weak = await rawLogisticProbe(train, test, train.dim, { C: 1e4 });
    const strong = await rawLogisticProbe(train, test, train.dim, { C: 1e-3 });
    assert.ok(weak.testAccuracy > strong.testAccuracy, `${weak.testAccuracy} vs ${strong.testAccuracy}`);
  });

  for (const [name, opts, message] of [
    ['C = 0', { C: 0 }, /C must be a positive number/],
    ['C = NaN', { C: NaN }, /C must be a positive number/],
  ] as const)
    it(`rejects ${name}`, async () => {
      const d = scaled(7, 10, 1, 1, 1, 1);
      await assert.rejects(
        rawLogisticProbe(d, d, d.dim, opts),
        (e: unknown) => e instanceof AftError && e.code === 'bad_input' && message.test(e.message),
      );
    });
});
