/** `aft compare`: merging run summaries into one table and the accuracy-vs-probe correlation. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { compareRuns, comparisonTable, pearson } from '../../sidecar/src/compare/compare';
import { correlate } from '../../core/common/view/correlation';
import type { RunSummary } from '../../core/common/protocol/events';
import { RunStore } from '../../core/node/runs/store';
import { AftError } from '../../core/common/util/errors';

function fakeRun(
  ws: string,
  name: string,
  probe: number,
  acc: Record<string, number>,
  raw?: { psi: number; rho: Record<string, number> },
): string {
  const store = RunStore.create(ws, name, {}, '');
  const summary: RunSummary = {
    format: 'aft-run-summary',
    version: 1,
    runId: store.runId,
    experiment: name,
    dataset: { name: 'mnist', train: 500, test: 2000, classes: 10, inputShape: [28, 28, 1] },
    backend: 'wasm',
    sources: [
      {
        name: 'teacher',
        kind: 'builtin',
        width: 8,
        linear_probe_accuracy: probe,
        ...(raw ? { raw_probe_accuracy: raw.psi } : {}),
      },
    ],
    methods: Object.fromEntries(
      Object.entries(acc).map(([m, a]) => [
        m,
        {
          kind: m,
          test_accuracy: { mean: a, se: 0.01, per_seed: { '0': a } },
          beta: 1,
          tuning: [],
          train_seconds: 1,
          ...(raw?.rho[m] !== undefined ? { raw_probe_rho_by_source: { teacher: raw.rho[m] } } : {}),
        },
      ]),
    ),
    started: new Date().toISOString(),
    finished: new Date().toISOString(),
    seconds: 1,
  };
  store.writeSummary(summary);
  store.finish('completed');
  return store.dir;
}

describe('compare runs', () => {
  it('pearson: perfect, anti, undefined', () => {
    assert.ok(Math.abs(pearson([1, 2, 3], [2, 4, 6])! - 1) < 1e-12);
    assert.ok(Math.abs(pearson([1, 2, 3], [3, 2, 1])! + 1) < 1e-12);
    assert.equal(pearson([1, 2], [1, 2]), null);
    assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
  });

  const undefinedCases: [string, number[], number[], RegExp][] = [
    ['two runs', [0.5, 0.9], [0.8, 0.9], /needs ≥ 3 runs with a linear probe, has 2/],
    ['one probe for all runs', [0.5, 0.5, 0.5], [0.8, 0.85, 0.9], /the linear probe is the same in every run/],
    [
      'a method that ignores the sources (STL)',
      [0.5, 0.7, 0.9],
      [0.8, 0.8, 0.8],
      /the accuracy is the same in every run/,
    ],
    ['a run without a probe (NaN)', [0.5, NaN, 0.9], [0.8, 0.85, 0.9], /has 2/],
  ];
  for (const [name, x, y, why] of undefinedCases) {
    it(`says why r is undefined: ${name}`, () => {
      const c = correlate(x, y);
      assert.equal(c.r, null);
      assert.match(c.why ?? '', why);
    });
  }

  it('the table says why instead of a number', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cmp-'));
    const dirs = [
      fakeRun(ws, 'a', 0.5, { stl: 0.8 }),
      fakeRun(ws, 'b', 0.7, { stl: 0.8 }),
      fakeRun(ws, 'c', 0.9, { stl: 0.8 }),
    ];
    assert.match(comparisonTable(compareRuns(dirs)), /stl .*n\/a: the accuracy is the same in every run/);
  });

  it('merges runs and correlates each method with the probe', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cmp-'));
    const dirs = [
      fakeRun(ws, 'a', 0.5, { stl: 0.8, aft: 0.81 }),
      fakeRun(ws, 'b', 0.7, { stl: 0.8, aft: 0.85 }),
      fakeRun(ws, 'c', 0.9, { stl: 0.81, aft: 0.9 }),
    ];
    const c = compareRuns(dirs);
    assert.deepEqual(c.methods, ['stl', 'aft']);
    assert.ok(c.correlation.aft.r! > 0.95);
    assert.equal(c.correlation.aft.n, 3);
    const table = comparisonTable(c);
    assert.match(table, /linear probe\s+50\.00\s+70\.00\s+90\.00/);
    assert.match(table, /aft\s+81\.00 ± 1\.00/);
    assert.doesNotMatch(table, /raw probe/);
  });

  it('shows the fig. 6a probes (raw ψ and ψ ⊙ ρ per method) per source, "-" where a run lacks one', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cmp-'));
    const withConcat = fakeRun(ws, 'c', 0.5, { aft: 0.81 }, { psi: 0.6, rho: { aft: 0.7 } });
    const summary = JSON.parse(fs.readFileSync(path.join(withConcat, 'summary.json'), 'utf8')) as RunSummary;
    summary.raw_probe_concat = 0.55;
    summary.methods.aft.raw_probe_rho_concat = 0.75;
    fs.writeFileSync(path.join(withConcat, 'summary.json'), JSON.stringify(summary));
    assert.match(comparisonTable(compareRuns([withConcat])), /raw probe all sources: ψ⊙ρ aft\s+75\.00/);
    const dirs = [
      fakeRun(ws, 'a', 0.5, { stl: 0.8, aft: 0.81 }, { psi: 0.6, rho: { aft: 0.7 } }),
      fakeRun(ws, 'b', 0.7, { stl: 0.8, aft: 0.85 }),
    ];
    const table = comparisonTable(compareRuns(dirs));
    assert.match(table, /raw probe teacher: ψ\s+60\.00\s+-/);
    assert.match(table, /raw probe teacher: ψ⊙ρ aft\s+70\.00\s+-/);
    assert.doesNotMatch(table, /all sources/);
  });

  it('refuses a run that is not complete, naming it', () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cmp-'));
    const s = RunStore.create(ws, 'x', {}, '');
    assert.throws(
      () => compareRuns([s.dir]),
      (e: unknown) => e instanceof AftError && /only completed runs/.test(e.message) && e.location?.file === s.dir,
    );
    assert.throws(
      () => compareRuns([path.join(ws, 'nope')]),
      (e: unknown) => e instanceof AftError && /not a run folder/.test(e.message),
    );
  });
});
