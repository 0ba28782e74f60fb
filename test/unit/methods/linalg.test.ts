/** The float64 eigensolver and Cholesky helpers behind LogME. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cholesky,
  choleskySolve,
  gramOfColumns,
  logDetFromCholesky,
  symmetricEigen,
} from '../../../sidecar/src/methods/linalg';
import { Rng } from '../../../sidecar/src/util/rng';

function randomMatrix(rng: Rng, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => rng.normal());
}

/** max |A v_i − λ_i v_i| / max|λ| and max |V Vᵀ − I|. */
function eigenErrors(
  a: Float64Array,
  n: number,
  values: Float64Array,
  vectors: Float64Array,
): { residual: number; orthogonality: number } {
  const scale = Math.max(...values.map(Math.abs), 1e-300);
  let residual = 0;
  let orthogonality = 0;
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < n; r++) {
      let av = 0;
      for (let c = 0; c < n; c++) av += a[r * n + c] * vectors[i * n + c];
      residual = Math.max(residual, Math.abs(av - values[i] * vectors[i * n + r]) / scale);
    }
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let c = 0; c < n; c++) dot += vectors[i * n + c] * vectors[j * n + c];
      orthogonality = Math.max(orthogonality, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  return { residual, orthogonality };
}

describe('symmetricEigen', () => {
  const cases: { name: string; n: number; make(rng: Rng): Float64Array; values?: number[] }[] = [
    { name: '1×1', n: 1, make: () => Float64Array.of(-3), values: [-3] },
    {
      name: 'diagonal, unsorted',
      n: 4,
      make: () => Float64Array.from([5, 0, 0, 0, 0, -1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]),
      values: [-1, 0, 2, 5],
    },
    { name: 'zero matrix', n: 3, make: () => new Float64Array(9), values: [0, 0, 0] },
    {
      name: 'repeated eigenvalue (2I + 11ᵀ)',
      n: 5,
      make: () => Float64Array.from({ length: 25 }, (_, k) => 1 + (k % 6 === 0 ? 2 : 0)),
      values: [2, 2, 2, 2, 7],
    },
    {
      name: 'tridiagonal [-1 2 -1]',
      n: 6,
      make: () =>
        Float64Array.from({ length: 36 }, (_, k) =>
          Math.floor(k / 6) === k % 6 ? 2 : Math.abs(Math.floor(k / 6) - (k % 6)) === 1 ? -1 : 0,
        ),
      values: [1, 2, 3, 4, 5, 6].map((j) => 2 - 2 * Math.cos((j * Math.PI) / 7)),
    },
    {
      name: 'random symmetric 40×40',
      n: 40,
      make: (rng) => {
        const m = randomMatrix(rng, 40, 40);
        return m.map((_, k) => m[k] + m[(k % 40) * 40 + Math.floor(k / 40)]);
      },
    },
    {
      name: 'rank-deficient Gram (30×30 from 10 rows)',
      n: 30,
      make: (rng) => gramOfColumns(randomMatrix(rng, 10, 30), 10, 30),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const a = c.make(new Rng(c.n));
      const { values, vectors } = symmetricEigen(a, c.n);
      for (let i = 1; i < c.n; i++) assert.ok(values[i - 1] <= values[i], 'eigenvalues are not ascending');
      const { residual, orthogonality } = eigenErrors(a, c.n, values, vectors);
      assert.ok(residual < 1e-12, `residual ${residual}`);
      assert.ok(orthogonality < 1e-12, `orthogonality ${orthogonality}`);
      if (c.values)
        c.values.forEach((v, i) =>
          assert.ok(
            Math.abs(values[i] - v) < 1e-12 * Math.max(1, Math.abs(v)),
            `eigenvalue ${i}: ${values[i]} vs ${v}`,
          ),
        );
    });
  }

  it('finds the rank of a Gram matrix: the trailing eigenvalues are round-off', () => {
    const { values } = symmetricEigen(gramOfColumns(randomMatrix(new Rng(2), 10, 30), 10, 30), 30);
    const top = values[29];
    assert.equal(values.filter((v) => Math.abs(v) < 1e-12 * top).length, 20);
  });

  it('rejects non-finite input', () => {
    assert.throws(() => symmetricEigen([1, NaN, NaN, 1], 2), /NaN or infinite/);
  });
});

describe('gramOfColumns', () => {
  it('equals FᵀF for a row count that is not a multiple of its unrolling', () => {
    const f = randomMatrix(new Rng(3), 7, 5);
    const g = gramOfColumns(f, 7, 5);
    for (let a = 0; a < 5; a++) {
      for (let b = 0; b < 5; b++) {
        let s = 0;
        for (let i = 0; i < 7; i++) s += f[i * 5 + a] * f[i * 5 + b];
        assert.ok(Math.abs(g[a * 5 + b] - s) < 1e-12, `entry ${a},${b}`);
      }
    }
  });
});

describe('cholesky', () => {
  it('factors, solves and gives the log-determinant of an SPD matrix', () => {
    const n = 6;
    const a = gramOfColumns(randomMatrix(new Rng(4), 20, n), 20, n);
    const l = cholesky(a, n);
    const b = Float64Array.from({ length: n }, (_, i) => i - 2);
    const x = choleskySolve(l, n, b);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += a[r * n + c] * x[c];
      assert.ok(Math.abs(s - b[r]) < 1e-9, `row ${r}: ${s} vs ${b[r]}`);
    }
    const logDet = symmetricEigen(a, n).values.reduce((s, v) => s + Math.log(v), 0);
    assert.ok(Math.abs(logDetFromCholesky(l, n) - logDet) < 1e-9);
  });

  it('refuses a matrix that is not positive definite', () => {
    assert.throws(() => cholesky([1, 2, 2, 1], 2), /not positive definite/);
  });
});
