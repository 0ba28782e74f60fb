/** The ρ heatmap's layout: one cell per feature, grids that fit, sorting, hit-testing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellOrigin, heatmapDomain, hitTest, layoutHeatmap } from '../../../webviews/src/data/heatmapLayout';
import { histogram } from '../../../webviews/src/data/histogram';

const segs = (...widths: number[]) => {
  let offset = 0;
  return widths.map((width, i) => {
    const s = { name: `s${i}`, offset, width };
    offset += width;
    return s;
  });
};

describe('layoutHeatmap', () => {
  const cases = [
    { name: 'the demo: teacher 256 + noise 256', widths: [256, 256], width: 900 },
    { name: 'one large source of 10,000', widths: [10_000], width: 900 },
    { name: 'uneven sources', widths: [1, 7, 300, 2048], width: 600 },
    { name: 'a narrow view', widths: [512, 512], width: 200 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const total = c.widths.reduce((a, b) => a + b, 0);
      const values = Array.from({ length: total }, (_, i) => (i % 17) / 17);
      const layout = layoutHeatmap(segs(...c.widths), values, { width: c.width, sortByValue: false });
      assert.equal(layout.cells, total, 'one cell per feature');
      assert.equal(layout.blocks.length, c.widths.length);
      for (const b of layout.blocks) {
        assert.ok(b.cols * b.rows >= b.count, 'the grid holds every feature');
        assert.ok(b.cols * (b.rows - 1) < b.count || b.count === 0, 'no empty last row');
        assert.ok(
          b.x + b.cols * b.cell <= Math.max(c.width, b.cols * b.cell),
          'fits the width (or is one grid at the minimum cell size)',
        );
        assert.deepEqual(
          [...b.order].sort((p, q) => p - q),
          Array.from({ length: b.count }, (_, i) => i),
          'order is a permutation',
        );
      }
      // Every cell has its own place: no two features share a grid position.
      const seen = new Set<string>();
      for (const b of layout.blocks) {
        for (let p = 0; p < b.count; p++) {
          const o = cellOrigin(b, p);
          const key = `${o.x},${o.y}`;
          assert.ok(!seen.has(key));
          seen.add(key);
        }
      }
    });
  }

  it('sorts each source by value, largest first, and hover finds the sorted feature', () => {
    const values = [0.1, 0.9, 0.5, 0.3, /* second source */ 0.2, 0.8];
    const layout = layoutHeatmap(segs(4, 2), values, { width: 400, sortByValue: true });
    assert.deepEqual([...layout.blocks[0].order], [1, 2, 3, 0]);
    assert.deepEqual([...layout.blocks[1].order], [1, 0]);
    const b = layout.blocks[1];
    const o = cellOrigin(b, 0);
    const hit = hitTest(layout, o.x + 1, o.y + 1, values);
    assert.equal(hit?.block.name, 's1');
    assert.equal(hit?.feature, 1);
    assert.equal(hit?.index, 5);
    assert.equal(hit?.value, 0.8);
  });

  it('hit-testing outside the cells finds nothing', () => {
    const layout = layoutHeatmap(segs(5), [1, 2, 3, 4, 5], { width: 400, sortByValue: false });
    assert.equal(hitTest(layout, -5, -5, [1, 2, 3, 4, 5]), undefined);
    const b = layout.blocks[0];
    // 5 features in a 3×2 grid: the sixth position is empty.
    assert.equal(b.cols, 3);
    const empty = cellOrigin(b, 5);
    assert.equal(hitTest(layout, empty.x + 1, empty.y + 1, [1, 2, 3, 4, 5]), undefined);
  });

  it('summarises each source, ignoring values that are not finite', () => {
    const layout = layoutHeatmap(segs(3), [1, NaN, 3], { width: 100, sortByValue: true });
    const b = layout.blocks[0];
    assert.equal(b.mean, 2);
    assert.equal(b.min, 1);
    assert.equal(b.max, 3);
    assert.equal(b.order[2], 1, 'NaN sorts last');
  });
});

describe('heatmapDomain and histogram', () => {
  it('uses [0, 1] for ρ in range, the data range otherwise', () => {
    assert.deepEqual(heatmapDomain([0.1, 0.7]), [0, 1]);
    assert.deepEqual(heatmapDomain([0.5, 3]), [0, 3]);
    assert.deepEqual(heatmapDomain([-2, 3]), [-2, 3]);
    assert.deepEqual(heatmapDomain([]), [0, 1]);
  });

  it('counts every finite value of a segment once', () => {
    const values = [0, 0.05, 0.5, 0.99, 1, NaN, 0.7];
    const h = histogram(values, 0, 6, [0, 1], 10);
    assert.equal(
      h.counts.reduce((a, b) => a + b, 0),
      5,
    );
    assert.equal(h.counts[0], 2);
    assert.equal(h.counts[9], 2, '1 falls in the last bin');
  });
});
