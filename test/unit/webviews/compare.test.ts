/** The comparison's numbers, and smoothing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompareRun, RunSummary } from '../../../core/common/protocol/webview';
import {
  ALL_SOURCES,
  compareMethods,
  probeAccuracy,
  rawProbeRows,
  scatterData,
} from '../../../webviews/src/compare/model';
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

describe('raw-scale probes (fig. 6a)', () => {
  it("a row per source and one for all sources, ψ and each ρ-learning method's ψ ⊙ ρ", () => {
    const withRaw = run('raw', 0.6, { stl: 0.8, aft: 0.85, kd: 0.82 });
    const s = withRaw.summary as unknown as {
      sources: { raw_probe_accuracy?: number }[];
      raw_probe_concat?: number;
      methods: Record<string, { raw_probe_rho_by_source?: Record<string, number>; raw_probe_rho_concat?: number }>;
    };
    s.sources[0].raw_probe_accuracy = 0.5;
    s.sources[1].raw_probe_accuracy = 0.3;
    s.raw_probe_concat = 0.55;
    s.methods.aft.raw_probe_rho_by_source = { a: 0.7 };
    s.methods.aft.raw_probe_rho_concat = 0.72;
    const { methods, rows } = rawProbeRows([withRaw, run('plain', 0.6, { stl: 0.8 })]);
    assert.deepEqual(methods, ['aft'], 'only methods that learned a ρ');
    assert.deepEqual(rows, [
      { run: 'raw', source: 'a', psi: 0.5, rho: { aft: 0.7 } },
      { run: 'raw', source: 'b', psi: 0.3, rho: {} },
      { run: 'raw', source: ALL_SOURCES, psi: 0.55, rho: { aft: 0.72 } },
    ]);
  });

  it('nothing for runs whose summaries have no raw probe', () =>
    assert.deepEqual(rawProbeRows([run('r1', 0.6, { stl: 0.8, aft: 0.82 }, 0.65)]), { methods: [], rows: [] }));
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
