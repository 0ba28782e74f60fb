/**
 * LogME against first principles: at the α, β it returns, the evidence must equal the Gaussian
 * marginal likelihood log N(y | 0, β⁻¹I + α⁻¹FFᵀ) computed directly from the N×N covariance,
 * for full-rank and rank-deficient features alike. (The golden test pins it to the reference
 * implementation on full-rank cases.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cholesky, choleskySolve, logDetFromCholesky } from '../../../sidecar/src/methods/linalg';
import { logme } from '../../../sidecar/src/methods/logme';
import { AftError } from '../../../core/common/util/errors';
import { Rng } from '../../../sidecar/src/util/rng';

interface Problem {
  f: Float64Array;
  labels: Int32Array;
  rows: number;
  dim: number;
}

/** Labels from a random linear map of random features, so the features carry signal. */
function problem(seed: number, rows: number, dim: number, classes: number): Problem {
  const rng = new Rng(seed);
  const f = Float64Array.from({ length: rows * dim }, () => rng.normal());
  const w = Float64Array.from({ length: dim * classes }, () => rng.normal());
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    let best = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = rng.normal();
      for (let a = 0; a < dim; a++) s += f[i * dim + a] * w[a * classes + c];
      if (s > best) [best, labels[i]] = [s, c];
    }
  }
  // Every class must occur; the first rows are forced to cover them.
  for (let c = 0; c < classes; c++) labels[c] = c;
  return { f, labels, rows, dim };
}

/** log N(y | 0, β⁻¹I + α⁻¹FFᵀ) via a Cholesky factor of the N×N covariance. */
function directLogEvidence(p: Problem, y: Float64Array, alpha: number, beta: number): number {
  const { f, rows: n, dim: d } = p;
  const cov = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let a = 0; a < d; a++) dot += f[i * d + a] * f[j * d + a];
      cov[i * n + j] = dot / alpha + (i === j ? 1 / beta : 0);
    }
  }
  const l = cholesky(cov, n);
  const x = choleskySolve(l, n, y);
  const quad = y.reduce((s, v, i) => s + v * x[i], 0);
  return -0.5 * (n * Math.log(2 * Math.PI) + logDetFromCholesky(l, n) + quad);
}

function oneHot(labels: Int32Array, c: number): Float64Array {
  return Float64Array.from(labels, (l) => (l === c ? 1 : 0));
}

describe('logme', () => {
  const shapes = [
    { name: 'full rank (N > D)', rows: 60, dim: 8, classes: 3 },
    { name: 'rank-deficient (N < D)', rows: 12, dim: 30, classes: 3 },
    { name: 'rank-deficient (duplicated columns)', rows: 40, dim: 10, classes: 2, duplicate: true },
  ];
  for (const s of shapes) {
    it(`evidence equals the direct Gaussian marginal likelihood at the returned α, β: ${s.name}`, () => {
      const p = problem(s.rows + s.dim, s.rows, s.dim, s.classes);
      // Columns 5..9 repeat columns 0..4: rank 5 < D = 10 with N > D.
      if (s.duplicate)
        for (let i = 0; i < s.rows; i++) for (let a = 5; a < 10; a++) p.f[i * 10 + a] = p.f[i * 10 + a - 5]!;
      const r = logme(p.f, p.labels, p.rows, p.dim);
      const rank = Math.min(s.rows, s.duplicate ? 5 : s.dim);
      assert.equal(r.rank, rank);
      r.classes.forEach((fit, c) => {
        const direct = directLogEvidence(p, oneHot(p.labels, c), fit.alpha, fit.beta);
        const ours = fit.evidence * p.rows;
        assert.ok(Math.abs(ours - direct) <= 1e-8 * Math.abs(direct), `class ${c}: ${ours} vs direct ${direct}`);
        // The reference implementation's sum over the k non-zero singular values omits
        // −(D−k)/2·log α; the direct computation must tell the two apart when k < D.
        const truncated = ours + ((p.dim - rank) / 2) * Math.log(fit.alpha);
        if (rank < p.dim)
          assert.ok(
            Math.abs(truncated - direct) > 1e-3,
            `the dropped term is negligible here (${truncated} vs ${direct})`,
          );
      });
      assert.ok(Math.abs(r.score - r.classes.reduce((a, f) => a + f.evidence, 0) / s.classes) < 1e-15);
    });
  }

  it('returns the posterior mean weights: (FᵀF + (α/β)I) m = Fᵀy', () => {
    const p = problem(7, 30, 6, 3);
    const r = logme(p.f, p.labels, p.rows, p.dim);
    for (let c = 0; c < 3; c++) {
      const lambda = r.classes[c].alpha / r.classes[c].beta;
      for (let a = 0; a < p.dim; a++) {
        let lhs = lambda * r.weights[c * p.dim + a];
        let rhs = 0;
        for (let i = 0; i < p.rows; i++) {
          let pred = 0;
          for (let b = 0; b < p.dim; b++) pred += p.f[i * p.dim + b] * r.weights[c * p.dim + b];
          lhs += p.f[i * p.dim + a] * pred;
          rhs += p.f[i * p.dim + a] * (p.labels[i] === c ? 1 : 0);
        }
        assert.ok(
          Math.abs(lhs - rhs) < 1e-9 * Math.max(1, Math.abs(rhs)),
          `class ${c}, feature ${a}: ${lhs} vs ${rhs}`,
        );
      }
    }
  });

  for (const s of [shapes[0], shapes[1]])
    it(`decomposing FFᵀ or FᵀF gives the same score, α, β and weights: ${s.name}`, () => {
      const p = problem(11, s.rows, s.dim, s.classes);
      const a = logme(p.f, p.labels, p.rows, p.dim, { basis: 'columns' });
      const b = logme(p.f, p.labels, p.rows, p.dim, { basis: 'rows' });
      assert.equal(a.rank, b.rank);
      assert.ok(Math.abs(a.score - b.score) <= 1e-10 * Math.abs(a.score), `${a.score} vs ${b.score}`);
      a.classes.forEach((c, k) => {
        assert.ok(Math.abs(c.alpha - b.classes[k].alpha) <= 1e-8 * c.alpha, `α ${c.alpha} vs ${b.classes[k].alpha}`);
        assert.ok(Math.abs(c.beta - b.classes[k].beta) <= 1e-8 * c.beta, `β ${c.beta} vs ${b.classes[k].beta}`);
      });
      const scale = Math.max(...a.weights.map(Math.abs));
      const worst = Math.max(...a.weights.map((w, i) => Math.abs(w - b.weights[i])));
      assert.ok(worst <= 1e-8 * scale, `weights differ by ${worst} (largest ${scale})`);
    });

  it('scores informative features above noise', () => {
    const p = problem(3, 200, 6, 4);
    const rng = new Rng(99);
    const noise = Float64Array.from(p.f, () => rng.normal());
    assert.ok(logme(p.f, p.labels, p.rows, p.dim).score > logme(noise, p.labels, p.rows, p.dim).score + 0.05);
  });

  const p = problem(1, 20, 4, 3);
  const bad: { name: string; run: () => unknown; message: RegExp }[] = [
    {
      name: 'constant features',
      run: () => logme(new Float64Array(80).fill(2), p.labels, 20, 4),
      message: /every feature is constant/,
    },
    {
      name: 'all-zero features',
      run: () => logme(new Float64Array(80), p.labels, 20, 4),
      message: /every feature is constant/,
    },
    {
      name: 'a NaN feature',
      run: () =>
        logme(
          p.f.map((v, i) => (i === 9 ? NaN : v)),
          p.labels,
          20,
          4,
        ),
      message: /feature 1 of example 2 is NaN/,
    },
    { name: 'a single class', run: () => logme(p.f, new Int32Array(20), 20, 4), message: /at least two classes/ },
    {
      name: 'fewer examples than classes',
      run: () => logme(p.f.subarray(0, 8), [0, 1], 2, 4, { numClasses: 3 }),
      message: /2 examples are fewer than the 3 classes/,
    },
    {
      name: 'a class without examples',
      run: () =>
        logme(
          p.f,
          p.labels.map((l) => (l === 1 ? 2 : l)),
          20,
          4,
        ),
      message: /class 1 has no examples/,
    },
    {
      name: 'a label out of range',
      run: () => logme(p.f, p.labels, 20, 4, { numClasses: 2 }),
      message: /label 2 is out of range/,
    },
    {
      name: 'a fractional label',
      run: () =>
        logme(
          p.f,
          Float64Array.from(p.labels, (l, i) => (i === 4 ? 0.5 : l)),
          20,
          4,
        ),
      message: /label of example 4 is 0.5/,
    },
    {
      name: 'mismatched shapes',
      run: () => logme(p.f, p.labels, 20, 5),
      message: /expected 20×5 = 100 feature values, got 80/,
    },
    {
      name: 'non-convergence',
      run: () => logme(p.f, p.labels, 20, 4, { maxIter: 1 }),
      message: /did not converge in 1 iterations/,
    },
  ];
  for (const b of bad) {
    it(`rejects ${b.name} with a bad_input error`, () => {
      assert.throws(
        b.run,
        (e: unknown) => e instanceof AftError && e.code === 'bad_input' && b.message.test(e.message),
      );
    });
  }
});
