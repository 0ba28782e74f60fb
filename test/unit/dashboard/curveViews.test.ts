/**
 * metrics.view.json, a finished run's curves downsampled as dashboards show them: the run store
 * writes it when the run ends; a reader asked for views of that many points takes it instead of
 * every row, and the dashboard then gets exactly what downsampling the full data gives. A file
 * that does not match metrics.jsonl, or is not a view file, is ignored (and said), never believed;
 * a CSV export still has every logged row.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { HostMessage, RunMessage, SeriesData } from '../../../core/common/protocol/webview';
import type { MetricsEvent } from '../../../core/common/protocol/events';
import {
  checkCurveViewFile,
  CURVE_VIEW_FILE,
  FIRST_CHART_POINTS,
  thinView,
} from '../../../core/common/runs/curveViews';
import { CURVE_CACHE_FILE } from '../../../core/common/runs/curves';
import { RunReader } from '../../../core/node/runs/reader';
import { RunStore } from '../../../core/node/runs/store';
import { RunAccumulator } from '../../../core/common/view/runAccumulator';
import { DashboardSession } from '../../../extension/src/dashboard/session';
import { FakeTimers, readRunToEnd, row } from './helpers';

const ws = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-views-'));

function event(method: string, seed: number, step: number, extra: Partial<MetricsEvent> = {}): MetricsEvent {
  const ce = 1 / step + 0.01 * Math.sin(step);
  return {
    type: 'metrics',
    runId: 'r',
    method,
    seed,
    beta: 1,
    phase: 'final',
    step,
    epoch: step / 4,
    ce,
    reg: 0.1,
    loss: ce + 0.1,
    trainAccuracy: 0.5,
    evalAccuracy: step % 10 === 0 ? 0.6 : NaN,
    lr: 0.001,
    timestamp: step,
    ...extra,
  };
}

/** A finished run of `steps` rows per series (aft with ρ curves, stl without), through the store. */
function finishedRun(steps: number): string {
  const store = RunStore.create(ws(), 'exp', {}, '');
  for (let step = 1; step <= steps; step++) {
    store.appendMetrics(event('stl', 0, step));
    store.appendMetrics(
      event('aft', 1, step, {
        rho: { teacher: { mean: 0.5 + step / 1e4, min: 0, max: 1 }, noise: { mean: 0.5 - step / 1e4, min: 0, max: 1 } },
      }),
    );
  }
  store.finish('completed');
  return store.dir;
}

/** What a dashboard of `maxPoints` gets from the folder, read to the end, and whether it came from the views (`viewPoints` null: never). */
function read(
  dir: string,
  maxPoints: number,
  viewPoints: number | null = maxPoints,
): { series: unknown; problems: string[]; fromViews: boolean } {
  const { series, problems, fromViews } = readRunToEnd(dir, maxPoints, viewPoints ?? undefined);
  return { series, problems, fromViews };
}

describe('metrics view file (metrics.view.json)', () => {
  it('the store writes it when the run ends; a dashboard opened from it gets what downsampling every row gives', () => {
    const dir = finishedRun(3000);
    assert.ok(fs.existsSync(path.join(dir, CURVE_VIEW_FILE)));
    const fromViews = read(dir, 1200);
    assert.equal(fromViews.fromViews, true);
    assert.deepEqual(fromViews.problems, []);
    const full = read(dir, 1200, null);
    assert.equal(full.fromViews, false);
    assert.deepEqual(fromViews.series, full.series);
    const views = (fromViews.series as { curves: Record<string, { step: number[] }> }[]).map((s) => s.curves);
    assert.ok(
      views.every((c) => c.loss.step.length === 1200 && c.evalAccuracy.step.length === 300),
      'each curve downsampled to 1,200 points; the sparse test accuracy keeps its 300',
    );
    assert.ok('rho:teacher' in views[1] && 'rho:noise' in views[1], 'the ρ curves too');
  });

  it('is not taken by a reader that wants more points than it holds (and that is not a problem)', () => {
    const dir = finishedRun(2500);
    const r = read(dir, 1500);
    assert.equal(r.fromViews, false);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.series, read(dir, 1500, null).series);
  });

  it('serves a dashboard of fewer points, downsampled again from its 1,200', () => {
    const dir = finishedRun(3000);
    const r = read(dir, 400, 1200);
    assert.equal(r.fromViews, true);
    assert.deepEqual(r.problems, []);
    const file = checkCurveViewFile(JSON.parse(fs.readFileSync(path.join(dir, CURVE_VIEW_FILE), 'utf8')));
    assert.ok(file.ok);
    const series = r.series as SeriesData[];
    assert.deepEqual(
      series,
      file.value.series.map((s) => thinView(s, 400)),
    );
    for (const s of series) {
      assert.equal(s.curves.loss.step.length, 400);
      assert.equal(s.curves.evalAccuracy.step.length, 300, 'a curve of no more points is sent as it is');
      assert.deepEqual([s.curves.loss.step[0], s.curves.loss.step.at(-1)], [1, 3000], 'the first and last step kept');
    }
  });

  const spoiled: [string, (dir: string) => void, RegExp][] = [
    [
      'metrics.jsonl grew after it was made',
      (dir) => fs.appendFileSync(path.join(dir, 'metrics.jsonl'), row('kd', 0, 1) + '\n'),
      /made from \d+ bytes of metrics\.jsonl, which now has \d+/,
    ],
    [
      'metrics.jsonl is another file of the same size',
      (dir) => {
        const file = path.join(dir, 'metrics.jsonl');
        const text = fs.readFileSync(file, 'utf8');
        fs.writeFileSync(file, text.slice(0, -3).replace(/.$/, ' ') + text.slice(-3));
      },
      /not the file it was made from/,
    ],
    [
      'it is not JSON',
      (dir) => fs.writeFileSync(path.join(dir, CURVE_VIEW_FILE), '{"format": "aft-metrics-view", '),
      /JSON/,
    ],
    [
      'it is a newer version',
      (dir) => rewrite(dir, (v) => ({ ...v, version: 2 })),
      /version 2 is not one this version reads/,
    ],
    [
      'a curve has more points than it says',
      (dir) => rewrite(dir, (v) => ({ ...v, maxPoints: 10, series: v.series })),
      /more than maxPoints/,
    ],
  ];
  for (const [name, spoil, why] of spoiled) {
    it(`is ignored, said, and the run read from its rows when ${name}`, () => {
      const dir = finishedRun(400);
      spoil(dir);
      const maxPoints = name.includes('more points') ? 10 : 1200;
      const r = read(dir, maxPoints);
      assert.equal(r.fromViews, false);
      assert.ok(
        r.problems.some((p) => p.includes(CURVE_VIEW_FILE) && why.test(p)),
        r.problems.join('\n'),
      );
      fs.rmSync(path.join(dir, CURVE_VIEW_FILE));
      assert.deepEqual(r.series, read(dir, maxPoints).series);
    });
  }

  it('rows appended after the views were taken: the reader starts over from the rows', () => {
    const dir = finishedRun(300);
    const reader = new RunReader(dir, { budgetMs: 1e9, viewPoints: 1200 });
    const acc = new RunAccumulator('r', dir);
    const first = reader.poll();
    assert.ok(first.views);
    acc.apply(first);
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), row('kd', 0, 1) + '\n');
    const again = reader.poll();
    assert.equal(again.reset, true);
    assert.ok(again.problems.some((p) => /changed after metrics\.view\.json was read/.test(p)));
    acc.apply(again);
    for (let more = again.more; more;) {
      const c = reader.poll();
      acc.apply(c);
      more = c.more;
    }
    fs.rmSync(path.join(dir, CURVE_VIEW_FILE));
    fs.rmSync(path.join(dir, CURVE_CACHE_FILE));
    assert.deepEqual(acc.snapshot().series, read(dir, 1200).series);
    assert.equal(acc.snapshot().series.length, 3, 'stl, aft and the appended kd');
  });

  it('a dashboard opened from the views still exports every logged row as CSV', () => {
    const dir = finishedRun(2500);
    const t = new FakeTimers();
    const sent: HostMessage[] = [];
    const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t });
    t.advance(10);
    s.onReady();
    const run = (sent[0] as RunMessage).run;
    assert.equal(run.series.find((x) => x.method === 'aft')!.curves.loss.step.length, FIRST_CHART_POINTS);
    const csv = s
      .curvesCsv([{ series: 'aft/1/final/1', curve: 'loss' }])
      .trimEnd()
      .split('\r\n');
    assert.equal(csv.length, 1 + 2500, 'the header and every row');
    assert.equal(csv[2500].split(',')[5], '2500');
    s.dispose();
  });

  const malformed: [string, unknown, RegExp][] = [
    ['not an object', [], /format is not/],
    [
      'a series without curves',
      {
        format: 'aft-metrics-view',
        version: 1,
        maxPoints: 10,
        cover: { bytes: 1, lines: 1, tail: '' },
        series: [{ id: 'a', method: 'a', seed: 0, phase: 'final', beta: 0, rows: 1 }],
      },
      /series\[0\] is not/,
    ],
    [
      'curves of unequal length',
      {
        format: 'aft-metrics-view',
        version: 1,
        maxPoints: 10,
        cover: { bytes: 1, lines: 1, tail: '' },
        series: [
          {
            id: 'a',
            method: 'a',
            seed: 0,
            phase: 'final',
            beta: 0,
            rows: 1,
            curves: { loss: { step: [1, 2], value: [1] } },
          },
        ],
      },
      /equal length/,
    ],
    [
      'strings for numbers',
      {
        format: 'aft-metrics-view',
        version: 1,
        maxPoints: 10,
        cover: { bytes: 1, lines: 1, tail: '' },
        series: [
          {
            id: 'a',
            method: 'a',
            seed: 0,
            phase: 'final',
            beta: 0,
            rows: 1,
            curves: { loss: { step: ['1'], value: [1] } },
          },
        ],
      },
      /other than numbers/,
    ],
    [
      'the same id twice',
      {
        format: 'aft-metrics-view',
        version: 1,
        maxPoints: 10,
        cover: { bytes: 1, lines: 1, tail: '' },
        series: [1, 2].map(() => ({ id: 'a', method: 'a', seed: 0, phase: 'final', beta: 0, rows: 1, curves: {} })),
      },
      /comes twice/,
    ],
  ];
  for (const [name, raw, why] of malformed) {
    it(`refuses a view file with ${name}`, () => {
      const r = checkCurveViewFile(raw);
      assert.equal(r.ok, false);
      assert.match((r as { error: string }).error, why);
    });
  }
});

function rewrite(dir: string, edit: (v: { series: unknown[] } & Record<string, unknown>) => unknown): void {
  const file = path.join(dir, CURVE_VIEW_FILE);
  fs.writeFileSync(file, JSON.stringify(edit(JSON.parse(fs.readFileSync(file, 'utf8')) as { series: unknown[] })));
}
