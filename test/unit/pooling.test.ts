/** Pooling token outputs into one vector per example, with and without attention masks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pool, poolingProblem } from '../../sidecar/src/features/pooling';

// Two examples, three positions, two features: value = 10·example + 2·position + feature.
const dims = [2, 3, 2];
const data = Float32Array.from(
  { length: 12 },
  (_, i) => 10 * Math.floor(i / 6) + 2 * Math.floor((i % 6) / 2) + (i % 2),
);
const mask = [1, 1, 0, 1, 0, 0];

describe('pooling', () => {
  const cases: [string, 'cls' | 'mean' | 'last', number[] | undefined, number[]][] = [
    ['cls takes position 0', 'cls', undefined, [0, 1, 10, 11]],
    ['mean without a mask averages every position', 'mean', undefined, [2, 3, 12, 13]],
    ['mean with a mask averages kept positions only', 'mean', mask, [1, 2, 10, 11]],
    ['last without a mask takes the final position', 'last', undefined, [4, 5, 14, 15]],
    ['last with a mask takes the last kept position', 'last', mask, [2, 3, 10, 11]],
  ];
  for (const [name, p, m, expected] of cases) {
    it(name, () => {
      const out = pool(p, data, dims, m);
      assert.equal(out.width, 2);
      assert.deepEqual(Array.from(out.data), expected);
    });
  }

  it('none flattens an already pooled output ([N, D, 1, 1] as BiT gives)', () => {
    assert.deepEqual(pool('none', new Float32Array([1, 2, 3, 4]), [2, 2, 1, 1]), {
      width: 2,
      data: new Float32Array([1, 2, 3, 4]),
    });
  });

  it('says which pooling a shape needs', () => {
    assert.match(
      poolingProblem('none', ['batch', 'seq', 768])!,
      /tokens × features\); choose pooling cls, mean or last/,
    );
    assert.match(
      poolingProblem('cls', ['batch', 768])!,
      /pooling cls needs a token output \[N, T, D\].*use pooling: none/,
    );
    assert.equal(poolingProblem('mean', ['batch', 'seq', 768]), undefined);
    assert.equal(poolingProblem('none', ['batch', 2048, 1, 1]), undefined);
  });
});
