/** The experiments table's host side: rows from the run store, and the session that posts them. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { HostMessage, TableMessage } from '../../core/common/protocol/webview';
import { tableRuns } from '../../core/node/runs/tableRows';
import { RunStore } from '../../core/node/runs/store';
import { TableSession } from '../../extension/src/table/session';
import { FakeTimers } from './dashboard/helpers';
import { writeSyntheticRuns } from '../helpers/syntheticRuns';

const ws = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-table-'));

describe('experiments table rows', () => {
  it("come from each run's status, summary, resolved experiment and curves", () => {
    const w = ws();
    const dirs = writeSyntheticRuns(w, 4, { evals: 4 });
    const rows = tableRuns(w).runs;
    assert.equal(rows.length, 4);
    const r = rows.find((x) => x.location === dirs[1])!;
    assert.equal(r.state, 'completed');
    assert.equal(r.params?.dataset, 'mnist');
    assert.deepEqual(r.params?.sources, [
      { name: 'teacher', kind: 'builtin', width: 256 },
      { name: 'noise', kind: 'noise', width: 128 },
    ]);
    assert.equal(r.params?.student, 'cnn 16-32 / 128-64');
    assert.deepEqual(r.params?.seeds, [0, 1, 2]);
    const summary = JSON.parse(fs.readFileSync(path.join(dirs[1], 'summary.json'), 'utf8')) as {
      methods: Record<string, { test_accuracy: { mean: number } }>;
    };
    assert.deepEqual(Object.keys(r.methods), Object.keys(summary.methods));
    // The curves' last accuracy of each seed is its reported one; the best is at least that.
    for (const [name, m] of Object.entries(r.methods)) {
      assert.ok(Math.abs(m.last! - summary.methods[name].test_accuracy.mean) < 1e-12, name);
      assert.ok(m.best! >= m.last!, name);
    }
    assert.ok(
      rows.some((x) => Object.values(x.methods).some((m) => m.best! > m.last!)),
      'some training peaked before its end',
    );
  });

  it('a damaged status.json or experiment.json leaves the run as a row that says why; a deleted run is gone', () => {
    const w = ws();
    const [a, b, c] = writeSyntheticRuns(w, 3);
    fs.writeFileSync(path.join(a, 'status.json'), '{"state": ');
    fs.writeFileSync(path.join(b, 'experiment.json'), '[1, 2');
    fs.rmSync(c, { recursive: true });
    const rows = new Map(tableRuns(w).runs.map((r) => [r.location, r]));
    assert.deepEqual([...rows.keys()].sort(), [a, b].sort());
    assert.equal(rows.get(a)?.state, 'failed');
    assert.match(rows.get(a)?.message ?? '', /status\.json is not valid JSON/);
    assert.equal(rows.get(b)?.params, undefined);
    assert.match(rows.get(b)?.message ?? '', /experiment\.json cannot be read \(experiment\.json is not valid JSON/);
    assert.ok(Object.keys(rows.get(b)?.methods ?? {}).length > 0, 'its metrics are still shown');
  });

  it('a running run is listed with its parameters and no metrics yet', () => {
    const w = ws();
    const s = RunStore.create(w, 'live', { name: 'live', dataset: { source: 'mnist' }, methods: ['stl'] }, '');
    const [row] = tableRuns(w).runs;
    assert.equal(row.state, 'running');
    assert.deepEqual(row.params?.methods, ['stl']);
    assert.deepEqual(row.methods, {});
    s.finish('cancelled');
  });
});

describe('experiments table session', () => {
  it("posts rows at once, and the best and last accuracies once every run's curves are read, in slices", () => {
    const w = ws();
    writeSyntheticRuns(w, 30);
    const timers = new FakeTimers();
    const sent: TableMessage[] = [];
    // No time for curves in a slice: each slice reads one run's (the budget is checked after each).
    const session = new TableSession(
      () => [w],
      (m) => sent.push(m as TableMessage),
      { timers, sliceMs: 0 },
    );
    session.onReady();
    assert.equal(sent.length, 1);
    const withCurves = (m: TableMessage): number =>
      m.runs.filter((r) => Object.values(r.methods).some((x) => x.best !== undefined)).length;
    assert.ok(withCurves(sent[0]) < 30, 'the first rows came before every curve was read');
    for (let i = 0; i < 40 && sent.length < 2; i++) timers.advance(0);
    assert.equal(sent.length, 2);
    assert.equal(withCurves(sent[1]), sent[1].runs.filter((r) => Object.keys(r.methods).length).length);
    session.dispose();
  });

  it('posts the rows while the page loads; its ready then asks nothing more, a ready again (the rows were lost) gets them again', () => {
    const w = ws();
    writeSyntheticRuns(w, 2);
    const timers = new FakeTimers();
    const sent: HostMessage[] = [];
    const session = new TableSession(
      () => [w],
      (m) => sent.push(m),
      { timers },
    );
    assert.equal(sent.length, 0);
    timers.advance(0);
    assert.equal(sent.length, 1, 'posted before ready');
    session.onReady();
    assert.equal(sent.length, 1);
    session.onReady();
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[1], sent[0]);
    session.dispose();
  });

  it('posts the rows on ready, again only when the store changed, and opens only runs it sent', () => {
    const w = ws();
    const [a, b] = writeSyntheticRuns(w, 2);
    const timers = new FakeTimers();
    const sent: HostMessage[] = [];
    const session = new TableSession(
      () => [w],
      (m) => sent.push(m),
      { timers, pollMs: 1000 },
    );
    session.onReady();
    assert.equal(sent.length, 1);
    const first = sent[0] as TableMessage;
    assert.equal(first.runs.length, 2);
    timers.advance(3000);
    assert.equal(sent.length, 1, 'nothing changed: nothing posted');
    fs.rmSync(b, { recursive: true });
    timers.advance(1000);
    assert.equal(sent.length, 2);
    assert.deepEqual(
      (sent[1] as TableMessage).runs.map((r) => r.location),
      [a],
    );
    const ids = first.runs.map((r) => r.runId);
    assert.deepEqual(session.dirsOf([...ids, 'not-a-run']), [a]);
    session.onHidden();
    writeSyntheticRuns(w, 1);
    timers.advance(5000);
    assert.equal(sent.length, 2, 'a hidden page is not polled');
    session.onReady();
    assert.equal((sent[2] as TableMessage).runs.length, 2);
    session.dispose();
  });
});
