/** LTTB downsampling: bounds, endpoints, peaks kept, gaps skipped. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lttb, lttbIndices } from '../../../core/common/runs/lttb';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('lttb', () => {
  const cases: { name: string; n: number; threshold: number; expectLength: number }[] = [
    { name: 'fewer points than the threshold are all kept', n: 10, threshold: 100, expectLength: 10 },
    { name: 'exactly the threshold', n: 100, threshold: 100, expectLength: 100 },
    { name: '50,000 points to 2,000', n: 50_000, threshold: 2000, expectLength: 2000 },
    { name: 'a threshold below 3 keeps the ends', n: 1000, threshold: 2, expectLength: 2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const x = range(c.n);
      const y = x.map((i) => Math.sin(i / 50));
      const idx = lttbIndices(x, y, c.threshold);
      assert.equal(idx.length, c.expectLength);
      assert.equal(idx[0], 0);
      assert.equal(idx.at(-1), c.n - 1);
      for (let i = 1; i < idx.length; i++) assert.ok(idx[i] > idx[i - 1], 'indices ascend');
    });
  }

  it('keeps an isolated spike', () => {
    const x = range(10_000);
    const y = x.map((i) => (i === 6543 ? 100 : 0));
    const out = lttb(x, y, 200);
    assert.ok(out.step.includes(6543));
    assert.equal(Math.max(...out.value), 100);
  });

  it('skips points that are not finite', () => {
    const x = [0, 1, 2, 3, 4];
    const y = [1, NaN, 2, Infinity, 3];
    assert.deepEqual(lttbIndices(x, y, 10), [0, 2, 4]);
  });

  it('works on typed arrays', () => {
    const x = Float64Array.from(range(5000));
    const y = Float64Array.from(range(5000), (i) => i * i);
    assert.equal(lttb(x, y, 500).step.length, 500);
  });
});
