/**
 * The dashboard's host side against a run folder written step by step: the ready handshake, then
 * throttled, downsampled updates; no sidecar involved.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { HostMessage, RunMessage, UpdateMessage } from '../../../core/common/protocol/webview';
import { DashboardSession, runDirFromState } from '../../../extension/src/dashboard/session';
import { Throttle } from '../../../extension/src/dashboard/throttle';
import { DEFAULT_MAX_POINTS, FIRST_CHART_POINTS, MIN_CHART_POINTS } from '../../../core/common/runs/curveViews';
import { appendRows, FakeTimers, row, tempRun, writeStatus } from './helpers';

describe('Throttle', () => {
  it('runs at most once per interval, and always runs the last request', () => {
    const t = new FakeTimers();
    const calls: number[] = [];
    const th = new Throttle(() => calls.push(t.now()), 100, t);
    th.schedule();
    t.advance(0);
    for (let i = 0; i < 50; i++) {
      th.schedule();
      t.advance(7);
    }
    t.advance(200);
    assert.ok(calls.length >= 3 && calls.length <= 5, `calls at ${calls.join(', ')}`);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i] - calls[i - 1] >= 100);
    assert.ok(calls.at(-1)! >= 350, 'the last burst is flushed');
  });
});

/** A running run's folder with these rows and a session on it (polls every 250 ms, ≤ 10 updates a second). */
function runningSession(rows: Parameters<typeof appendRows>[1]): {
  dir: string;
  t: FakeTimers;
  sent: HostMessage[];
  s: DashboardSession;
} {
  const dir = tempRun();
  appendRows(dir, rows);
  const t = new FakeTimers();
  const sent: HostMessage[] = [];
  const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t, pollMs: 250, minIntervalMs: 100 });
  return { dir, t, sent, s };
}

describe('DashboardSession', () => {
  it('sends the whole run while the webview loads, not again on its ready, then only what changed', () => {
    const { dir, t, sent, s } = runningSession([row('aft', 0, 100)]);
    t.advance(1000);
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run'],
      'posted once while the page loads, not at every poll',
    );
    const first = sent[0] as RunMessage;
    assert.equal(first.run.location, dir);
    assert.equal(first.run.series[0].rows, 1);
    s.onReady();
    t.advance(300);
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run'],
      'the page has it: no second copy',
    );

    appendRows(dir, [row('aft', 0, 200), row('kd', 0, 100)]);
    t.advance(300);
    const u = sent.at(-1) as UpdateMessage;
    assert.equal(u.type, 'update');
    assert.deepEqual(u.series!.map((x) => [x.id, x.rows]).sort(), [
      ['aft/0/final/1', 2],
      ['kd/0/final/1', 1],
    ]);
    assert.equal(u.status, undefined, 'status.json did not change');
    s.dispose();
  });

  it('rows read after the early run reach the webview as an update once it is ready', () => {
    const { dir, t, sent, s } = runningSession([row('aft', 0, 100)]);
    t.advance(0);
    appendRows(dir, [row('aft', 0, 200), row('kd', 0, 100)]);
    t.advance(300);
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run'],
      'nothing more before ready',
    );
    s.onReady();
    t.advance(0);
    const u = sent.at(-1) as UpdateMessage;
    assert.equal(u.type, 'update');
    assert.deepEqual(u.series!.map((x) => [x.id, x.rows]).sort(), [
      ['aft/0/final/1', 2],
      ['kd/0/final/1', 1],
    ]);
    // After a reload (hidden, then ready again) the whole run is sent again, with what came meanwhile.
    s.onHidden();
    appendRows(dir, [row('aft', 0, 300)]);
    t.advance(300);
    s.onReady();
    const again = sent.filter((m) => m.type === 'run').at(-1) as RunMessage;
    assert.equal(sent.filter((m) => m.type === 'run').length, 2);
    assert.deepEqual(again.run.series.map((x) => [x.id, x.rows]).sort(), [
      ['aft/0/final/1', 3],
      ['kd/0/final/1', 1],
    ]);
    s.dispose();
  });

  it('a page that got nothing says ready again and gets the whole run', () => {
    const { t, sent, s } = runningSession([row('aft', 0, 100)]);
    t.advance(0);
    s.onReady(); // the early run was lost on the way
    t.advance(2000);
    s.onReady(); // webviews/src/common/host.ts: no data 2 s after ready
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run', 'run'],
    );
    assert.equal((sent[1] as RunMessage).run.series[0].rows, 1);
    s.dispose();
  });

  it('a metrics file replaced after the early run is sent whole on ready', () => {
    const { dir, t, sent, s } = runningSession([row('aft', 0, 100), row('aft', 0, 200)]);
    t.advance(0);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '');
    appendRows(dir, [row('kd', 0, 100)]);
    t.advance(300);
    s.onReady();
    t.advance(300);
    const runs = sent.filter((m): m is RunMessage => m.type === 'run');
    assert.equal(runs.length, 2, sent.map((m) => m.type).join(', '));
    assert.deepEqual(
      runs[1].run.series.map((x) => [x.id, x.rows]),
      [['kd/0/final/1', 1]],
    );
    s.dispose();
  });

  it('sends at most ten updates a second however fast rows arrive', () => {
    const dir = tempRun();
    const t = new FakeTimers();
    const sent: HostMessage[] = [];
    const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t, pollMs: 10, minIntervalMs: 100 });
    s.onReady();
    for (let step = 1; step <= 200; step++) {
      appendRows(dir, [row('aft', 0, step)]);
      t.advance(10);
    }
    const updates = sent.filter((m) => m.type === 'update');
    assert.ok(updates.length <= 21, `${updates.length} updates in 2 s`);
    t.advance(500);
    const last = sent.filter((m): m is UpdateMessage => m.type === 'update').at(-1)!;
    assert.equal(last.series![0].rows, 200, 'the final state arrives');
    s.dispose();
  });

  it('downsamples long series to maxPoints', () => {
    const dir = tempRun('completed');
    appendRows(
      dir,
      Array.from({ length: 5000 }, (_, i) => row('aft', 0, i + 1)),
    );
    const sent: HostMessage[] = [];
    const t = new FakeTimers();
    const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t, maxPoints: 300 });
    s.onReady();
    t.advance(0); // the first read happens on the next turn
    const run = (sent[0] as RunMessage).run;
    assert.equal(run.series[0].rows, 5000);
    assert.equal(run.series[0].curves.loss.step.length, 300);
    s.dispose();
  });

  /** A finished run of 5,000 rows, its session started with `maxPoints` (what the last dashboard's charts drew). */
  function longRunSession(maxPoints: unknown): {
    t: FakeTimers;
    sent: HostMessage[];
    told: number[];
    s: DashboardSession;
  } {
    const dir = tempRun('completed');
    appendRows(
      dir,
      Array.from({ length: 5000 }, (_, i) => row('aft', 0, i + 1)),
    );
    const t = new FakeTimers();
    const sent: HostMessage[] = [];
    const told: number[] = [];
    const s = new DashboardSession(dir, (m) => sent.push(m), {
      timers: t,
      maxPoints,
      onChartPoints: (p) => told.push(p),
    });
    return { t, sent, told, s };
  }
  const pointsSent = (m: HostMessage): number => (m as RunMessage).run.series[0].curves.loss.step.length;

  const starts: [string, unknown, number][] = [
    ['what the last dashboard drew', 400, 400],
    ['FIRST_CHART_POINTS when nothing was remembered', undefined, FIRST_CHART_POINTS],
    ['FIRST_CHART_POINTS when the remembered value is not a number', 'wide', FIRST_CHART_POINTS],
    ['at least MIN_CHART_POINTS', 3, MIN_CHART_POINTS],
    ['at most DEFAULT_MAX_POINTS', 1e6, DEFAULT_MAX_POINTS],
  ];
  for (const [name, remembered, expected] of starts) {
    it(`sends the run early with ${name}`, () => {
      const { t, sent, s } = longRunSession(remembered);
      t.advance(0);
      assert.deepEqual(
        sent.map((m) => [m.type, pointsSent(m)]),
        [['run', expected]],
      );
      s.dispose();
    });
  }

  it('keeps the early run when the charts draw about as many points, and remembers what they draw', () => {
    const { t, sent, told, s } = longRunSession(400);
    t.advance(0);
    s.onReady(480);
    t.advance(500);
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run'],
      'within a quarter: no second copy',
    );
    assert.deepEqual(told, [480]);
    s.dispose();
  });

  it('sends the run again, finer, when the charts draw far more points than it was sent with', () => {
    const { t, sent, told, s } = longRunSession(400);
    t.advance(0);
    s.onReady(952);
    assert.deepEqual(
      sent.map((m) => [m.type, pointsSent(m)]),
      [
        ['run', 400],
        ['run', 952],
      ],
    );
    // Grown wider later (a resize): again only when clearly more, and never past DEFAULT_MAX_POINTS.
    s.onChartPoints(1100);
    s.onChartPoints(5000);
    s.onChartPoints(5000);
    assert.deepEqual(
      sent.map((m) => [m.type, pointsSent(m)]),
      [
        ['run', 400],
        ['run', 952],
        ['run', DEFAULT_MAX_POINTS],
      ],
    );
    assert.deepEqual(told, [952, 1100, DEFAULT_MAX_POINTS, DEFAULT_MAX_POINTS]);
    s.dispose();
  });

  it('a resize before ready changes nothing until the page listens', () => {
    const { t, sent, s } = longRunSession(400);
    t.advance(0);
    s.onChartPoints(1000);
    assert.deepEqual(
      sent.map((m) => [m.type, pointsSent(m)]),
      [['run', 400]],
    );
    s.onReady(1000);
    assert.deepEqual(
      sent.map((m) => [m.type, pointsSent(m)]),
      [
        ['run', 400],
        ['run', 1000],
      ],
    );
    s.dispose();
  });

  it('stops polling once the run has finished', () => {
    const dir = tempRun();
    const t = new FakeTimers();
    const s = new DashboardSession(dir, () => {}, { timers: t });
    t.advance(500);
    assert.equal(t.count, 1, 'polling while running');
    fs.writeFileSync(
      path.join(dir, 'summary.json'),
      JSON.stringify({ format: 'aft-run-summary', version: 1, sources: [], methods: {} }),
    );
    writeStatus(dir, 'completed');
    t.advance(500);
    assert.equal(t.count, 0);
    assert.ok(s.finished);
    s.dispose();
  });

  it('reads a long file in slices and sends it once, whole, when ready came early', () => {
    const dir = tempRun('completed');
    appendRows(
      dir,
      Array.from({ length: 3000 }, (_, i) => row('aft', 0, i + 1)),
    );
    const t = new FakeTimers();
    const sent: HostMessage[] = [];
    const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t, chunkBytes: 16 * 1024, budgetMs: 0 });
    s.onReady();
    assert.equal(sent.length, 0, 'nothing while the backlog is read');
    t.advance(0);
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run'],
    );
    assert.equal((sent[0] as RunMessage).run.series[0].rows, 3000);
    t.advance(1000);
    assert.equal(sent.length, 1, 'no partial updates');
    s.dispose();
  });

  it('sends the whole run again after the webview reloads', () => {
    const dir = tempRun('completed');
    const sent: HostMessage[] = [];
    const t = new FakeTimers();
    const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t });
    s.onReady();
    t.advance(0);
    s.onHidden();
    s.onReady();
    assert.deepEqual(
      sent.map((m) => m.type),
      ['run', 'run'],
    );
    s.dispose();
  });
});

describe('runDirFromState', () => {
  it('keeps reading after a failed read: says it once, then shows the run when the folder reads again', () => {
    const dir = tempRun();
    fs.mkdirSync(path.join(dir, 'metrics.jsonl')); // a folder where the file should be: every read fails
    const t = new FakeTimers();
    const sent: HostMessage[] = [];
    const errors: string[] = [];
    const log = { trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };
    const s = new DashboardSession(dir, (m) => sent.push(m), { timers: t, pollMs: 250, log });
    s.onReady();
    t.advance(5000);
    assert.equal(errors.length, 1, `said once, not at every retry: ${errors.join(' | ')}`);
    assert.deepEqual(
      sent.map((m) => m.type),
      ['error'],
    );
    fs.rmdirSync(path.join(dir, 'metrics.jsonl'));
    appendRows(dir, [row('aft', 0, 100)]);
    t.advance(1500);
    const run = sent.find((m): m is RunMessage => m.type === 'run');
    assert.ok(run, `the run once it reads: ${sent.map((m) => m.type).join(', ')}`);
    assert.equal(run.run.series[0].rows, 1);
    s.dispose();
  });

  it('accepts an absolute run folder and nothing else', () => {
    const dir = tempRun();
    assert.equal(runDirFromState({ runDir: dir }), dir);
    assert.equal(runDirFromState({ runDir: path.dirname(dir) }), undefined, 'not a run');
    assert.equal(runDirFromState({ runDir: 'relative/run' }), undefined);
    assert.equal(runDirFromState(null), undefined);
    assert.equal(runDirFromState({ runDir: 5 }), undefined);
  });
});
