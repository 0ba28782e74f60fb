/** The curves' mean ± SE band across seeds, and log axes in the line chart export. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedBand } from '../../../webviews/src/data/seedBand';
import { lineScene } from '../../../webviews/src/charts/lineScene';
import { fade, FALLBACK_THEME } from '../../../webviews/src/charts/theme';

const close = (a: readonly number[], b: readonly number[]): void => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) =>
    assert.ok(Math.abs(v - b[i]) < 1e-12 || (Number.isNaN(v) && Number.isNaN(b[i])), `${i}: ${v} vs ${b[i]}`),
  );
};

describe('seed band', () => {
  it('takes the mean and standard error of the seeds at each step', () => {
    const b = seedBand([
      { x: [1, 2, 3], y: [1, 2, 3] },
      { x: [1, 2, 3], y: [3, 4, 5] },
    ]);
    assert.deepEqual(b.x, [1, 2, 3]);
    close(b.mean, [2, 3, 4]);
    // Two values 2 apart: sd √2, SE 1.
    close(b.lo, [1, 2, 3]);
    close(b.hi, [3, 4, 5]);
    assert.deepEqual(b.n, [2, 2, 2]);
  });

  it('interpolates a seed between its own steps, never beyond them, and skips gaps', () => {
    const b = seedBand([
      { x: [0, 10], y: [0, 10] },
      { x: [5, 20], y: [7, NaN] },
    ]);
    assert.deepEqual(b.x, [0, 5, 10]);
    // At 5 the first seed is interpolated (5); at 0 and 10 only the first seed has a value.
    close(b.mean, [0, 6, 10]);
    assert.deepEqual(b.n, [1, 2, 1]);
    close(b.lo, [0, 5, 10]);
    close(b.hi, [0, 7, 10]);
  });
});

describe('line chart export with log axes and faint curves', () => {
  it('drops what a log axis cannot show and leaves unlisted curves out of the legend', () => {
    const scene = lineScene(
      {
        title: 't',
        xLabel: 'step',
        yLabel: 'loss',
        log: true,
        logX: true,
        series: [
          { label: 'aft', color: '#1a85ff', dash: [], x: [0, 1, 10, 100], y: [1, 0.5, 0, 0.1] },
          { label: 'aft (raw)', color: fade('#1a85ff', 0.3), dash: [], x: [1, 10], y: [0.6, 0.2], noLegend: true },
        ],
      },
      FALLBACK_THEME,
    );
    const paths = scene.prims.filter((p) => p.k === 'path');
    assert.equal(paths.length, 2);
    const pts = paths[0].k === 'path' ? paths[0].points : [];
    assert.ok(Number.isNaN(pts[0]), 'step 0 has no place on a log x axis');
    assert.ok(Number.isNaN(pts[5]), 'a value of 0 has no place on a log y axis');
    assert.ok(Number.isFinite(pts[2]) && Number.isFinite(pts[3]));
    const legend = scene.prims.filter((p) => p.k === 'text' && (p.text === 'aft' || p.text === 'aft (raw)'));
    assert.deepEqual(
      legend.map((p) => (p.k === 'text' ? p.text : '')),
      ['aft'],
    );
    assert.equal(fade('#1a85ff', 0.3), 'rgba(26,133,255,0.3)');
  });
});
