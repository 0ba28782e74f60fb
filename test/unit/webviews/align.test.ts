/** Curves on one x axis for a chart (data/align.ts), and the points per curve a chart is sent (curveViews.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import uPlot from 'uplot';
import { alignCurves, type Curve } from '../../../webviews/src/data/align';
import {
  clampChartPoints,
  DEFAULT_MAX_POINTS,
  FIRST_CHART_POINTS,
  MIN_CHART_POINTS,
  needsFinerPoints,
  pointsAcross,
} from '../../../core/common/runs/curveViews';

describe('alignCurves', () => {
  const cases: [string, Curve[], (number | null)[][]][] = [
    ['no curves', [], [[]]],
    [
      'one curve',
      [{ x: [1, 2, 3], y: [5, 6, 7] }],
      [
        [1, 2, 3],
        [5, 6, 7],
      ],
    ],
    [
      'steps a curve lacks are gaps',
      [
        { x: [1, 3], y: [1, 3] },
        { x: [2, 3, 4], y: [20, 30, 40] },
      ],
      [
        [1, 2, 3, 4],
        [1, null, 3, null],
        [null, 20, 30, 40],
      ],
    ],
    [
      'values that are not finite are gaps',
      [{ x: [1, 2, 3], y: [NaN, Infinity, 3] }],
      [
        [1, 2, 3],
        [null, null, 3],
      ],
    ],
    [
      'steps that are not finite are left out',
      [{ x: [1, NaN, 3], y: [1, 2, 3] }],
      [
        [1, 3],
        [1, 3],
      ],
    ],
    [
      'steps out of order',
      [{ x: [3, 1, 2], y: [30, 10, 20] }],
      [
        [1, 2, 3],
        [10, 20, 30],
      ],
    ],
    [
      'a step twice keeps its later value',
      [{ x: [1, 2, 2], y: [1, 2, 9] }],
      [
        [1, 2],
        [1, 9],
      ],
    ],
    [
      'an empty curve beside another',
      [
        { x: [], y: [] },
        { x: [1], y: [1] },
      ],
      [[1], [null], [1]],
    ],
  ];
  for (const [name, curves, expected] of cases) it(name, () => assert.deepEqual(alignCurves(curves), expected));

  it('gives what uPlot.join gives (missing points as null instead of undefined)', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const curves: { x: number[]; y: number[] }[] = Array.from({ length: 9 }, () => {
      const x: number[] = [];
      for (let s = 0; s < 50_000; s += 1 + Math.floor(random() * 80)) x.push(s);
      return { x, y: x.map(() => random()) };
    });
    const ours = alignCurves(curves);
    const joined = uPlot
      .join(curves.map((c): uPlot.AlignedData => [c.x, c.y]))
      .map((col) => Array.from(col, (v) => v ?? null));
    assert.ok(ours[0].length > 5 * curves[0].x.length, 'the curves have different steps');
    assert.deepEqual(ours, joined);
  });
});

describe('points per curve for a chart', () => {
  const across: [number, number, number][] = [
    [476, 1, 476],
    [476, 2, 952],
    [476, 3, 952], // at most 2 per CSS pixel
    [476, 0.5, 476], // at least 1
    [900, 2, DEFAULT_MAX_POINTS],
    [50, 1, MIN_CHART_POINTS],
    [NaN, 1, DEFAULT_MAX_POINTS],
    [476, NaN, 476],
  ];
  for (const [width, dpr, points] of across)
    it(`charts ${width} px wide at pixel ratio ${dpr}: ${points}`, () =>
      assert.equal(pointsAcross(width, dpr), points));

  const clamped: [unknown, number][] = [
    [600.4, 600],
    [10, MIN_CHART_POINTS],
    [1e9, DEFAULT_MAX_POINTS],
    [undefined, FIRST_CHART_POINTS],
    ['800', FIRST_CHART_POINTS],
    [Infinity, FIRST_CHART_POINTS],
  ];
  for (const [asked, points] of clamped)
    it(`a remembered or asked ${JSON.stringify(asked) ?? 'undefined'}: ${points}`, () =>
      assert.equal(clampChartPoints(asked), points));

  const finer: [number, number, boolean][] = [
    [476, 500, false],
    [476, 596, true],
    [600, 750, false],
    [952, 5000, true],
    [DEFAULT_MAX_POINTS, 5000, false],
  ];
  for (const [sent, wanted, again] of finer)
    it(`sent ${sent}, the charts draw ${wanted}: ${again ? '' : 'not '}again`, () =>
      assert.equal(needsFinerPoints(sent, wanted), again));
});
