/** The golden comparison the golden test and the GPU check share: what passes and what fails, and how it says so. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareGolden, type GoldenCase } from '../../../sidecar/src/methods/golden';

const c: GoldenCase = {
  method: 'aft',
  inputs: {},
  expected: {
    loss: 2,
    grad: {
      student: [
        [1, -4],
        [0, 2],
      ],
      b: [1e-17, -1e-17],
    },
  },
};

describe('golden comparison', () => {
  it('within the tolerances: no failures, worst relative error per output', () => {
    const r = compareGolden(c, {
      values: { loss: 2 * (1 + 5e-5) },
      arrays: { 'grad.student': Float64Array.from([1, -4, 0.002, 2]), 'grad.b': Float64Array.from([5e-8, 0]) },
    });
    assert.deepEqual(r.failures, []);
    assert.ok(Math.abs(r.errors.loss - 5e-5) < 1e-12);
    assert.ok(Math.abs(r.errors['grad.student'] - 0.002 / 4) < 1e-12);
    assert.ok(r.errors['grad.b'] <= 5e-4);
  });

  it('past them, or missing: one line each, saying where', () => {
    const r = compareGolden(c, {
      values: { loss: 2.01 },
      arrays: { 'grad.student': Float64Array.from([1, -4, 0.01, 2]) },
    });
    assert.equal(r.failures.length, 3);
    assert.match(r.failures[0], /^loss: got 2\.01, expected 2 \(relative error 5\.00e-3\)$/);
    assert.match(
      r.failures[1],
      /^grad\.student: relative error 2\.50e-3 at index 2 \(got 0\.01, expected 0\) exceeds 0\.001$/,
    );
    assert.equal(r.failures[2], 'gradient of b not computed');
  });
});
