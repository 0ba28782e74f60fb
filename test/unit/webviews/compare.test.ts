/** The comparison's numbers, and smoothing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompareRun, RunSummary } from '../../../core/common/protocol/webview';
import { compareMethods, probeAccuracy, scatterData } from '../../../webviews/src/compare/model';
import { pearson, smoothEma } from '../../../webviews/src/data/stats';

function run(id: string, probe: number, acc: Record<string, number>, concat?: number): CompareRun {
  const summary = {
    format: 'aft-run-summary',
    version: 1,
    sources: [
      { name: 'a', kind: 'npy', width: 4, linear_probe_accuracy: probe },
      { name: 'b', kind: 'npy', width: 4, linear_probe_accuracy: probe - 0.1 },
    ],
    ...(concat !== undefined ? { linear_probe_concat: concat } : {}),
    methods: Object.fromEntries(
      Object.entries(acc).map(([m, v]) => [
        m,
        { kind: m, test_accuracy: { mean: v, se: 0.01, per_seed: {} }, beta: 1, tuning: [], train_seconds: 1 },
      ]),
    ),
  } as unknown as RunSummary;
  return { runId: id, experiment: 'e', location: `/r/${id}`, state: 'completed', summary };
}

describe('comparison', () => {
  const runs = [
    run('r1', 0.6, { stl: 0.8, aft: 0.82 }, 0.65),
    run('r2', 0.7, { stl: 0.8, aft: 0.86 }, 0.75),
    run('r3', 0.8, { stl: 0.81, aft: 0.9 }, 0.85),
  ];

  it('lists every method once, in order of appearance', () => assert.deepEqual(compareMethods(runs), ['stl', 'aft']));

  it('takes the probe of all sources, the best one, or a named one', () => {
    assert.equal(probeAccuracy(runs[0], 'psi'), 0.65);
    assert.equal(probeAccuracy(runs[0], 'max'), 0.6);
    assert.ok(Math.abs(probeAccuracy(runs[0], 'b') - 0.5) < 1e-12);
    assert.ok(Number.isNaN(probeAccuracy(runs[0], 'nope')));
  });

  it('correlates each method across runs', () => {
    const d = scatterData(runs, 'psi');
    assert.equal(d.points.length, 6);
    assert.ok(d.r.get('aft')! > 0.99);
    assert.ok(d.r.get('stl')! > 0.8);
  });
});

describe('stats', () => {
  it('pearson needs three pairs and variance', () => {
    assert.ok(Number.isNaN(pearson([1, 2], [1, 2])));
    assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
    assert.equal(pearson([1, 2, 3], [3, 2, 1]), -1);
  });

  it('EMA with bias correction starts at the first value and keeps gaps', () => {
    const s = smoothEma([2, NaN, 2, 2], 0.9);
    assert.equal(s[0], 2);
    assert.ok(Number.isNaN(s[1]));
    assert.ok(Math.abs(s[3] - 2) < 1e-12);
    assert.deepEqual(smoothEma([1, 2], 0), [1, 2]);
  });
});
