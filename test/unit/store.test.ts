/** The run store's guarantees: what readers see for complete, killed and broken runs. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  HEARTBEAT_SECONDS,
  listRuns,
  readRunStatus,
  runInfos,
  RunStore,
  STALE_FLOOR_SECONDS,
} from '../../core/node/runs/store';
import { RunsModel } from '../../extension/src/runs/model';
import { silentLogger } from '../../extension/src/util/log';
import { writeFileAtomic } from '../../core/node/util/fsx';
import type { RunInfo } from '../../core/common/protocol/rpc';
import type { RunSummary } from '../../core/common/protocol/events';
import { writeSyntheticRuns } from '../helpers/syntheticRuns';

const ws = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-store-'));

describe('run store', () => {
  it('a new run is running; a finished one carries its state and message', () => {
    const s = RunStore.create(ws(), 'exp', { a: 1 }, 'name: exp\n');
    assert.equal(readRunStatus(s.dir).state, 'running');
    s.finish('failed', 'boom');
    const st = readRunStatus(s.dir);
    assert.equal(st.state, 'failed');
    assert.equal(st.message, 'boom');
    assert.equal(fs.readFileSync(path.join(s.dir, 'experiment.source.yaml'), 'utf8'), 'name: exp\n');
  });

  it('a run marked completed without summary.json reads as failed', () => {
    const s = RunStore.create(ws(), 'exp', {}, '');
    s.finish('completed');
    assert.equal(readRunStatus(s.dir).state, 'failed');
  });

  it('a running run whose process is gone reads as failed', () => {
    const s = RunStore.create(ws(), 'exp', {}, '');
    const file = path.join(s.dir, 'status.json');
    const st = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number };
    st.pid = 2 ** 22 + 12345; // above Linux's pid_max default: never a live process
    fs.writeFileSync(file, JSON.stringify(st));
    assert.equal(readRunStatus(s.dir).state, 'failed');
  });

  it('a running run whose pid now names another process (a reused pid) reads as failed', () => {
    const s = RunStore.create(ws(), 'exp', {}, '');
    const file = path.join(s.dir, 'status.json');
    const st = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; processStart?: number };
    assert.equal(readRunStatus(s.dir).state, 'running');
    if (process.platform !== 'linux') return;
    assert.equal(typeof st.processStart, 'number', 'the start time is recorded beside the pid');
    st.processStart! -= 1; // this pid, but a process that started at another time
    fs.writeFileSync(file, JSON.stringify(st));
    const read = readRunStatus(s.dir);
    assert.equal(read.state, 'failed');
    assert.match(read.message ?? '', /ended without finishing/);
    s.finish('cancelled');
  });

  it('a running run whose heartbeat stopped (3 heartbeats, at least 5 minutes) reads as failed, "stopped answering"', () => {
    const s = RunStore.create(ws(), 'exp', {}, '');
    const st = readRunStatus(s.dir);
    assert.equal(st.heartbeatSeconds, HEARTBEAT_SECONDS);
    const updated = Date.parse(st.updated);
    assert.equal(readRunStatus(s.dir, updated + STALE_FLOOR_SECONDS * 1000 - 1000).state, 'running');
    const stale = readRunStatus(s.dir, updated + STALE_FLOOR_SECONDS * 1000 + 1000);
    assert.equal(stale.state, 'failed');
    assert.match(stale.message ?? '', /^stopped answering: no heartbeat since /);
    s.finish('cancelled');
  });

  it("a run folder is created whole (status.json in it) or not at all; a dead creator's staging folder is never listed and is removed by the next run", () => {
    const w = ws();
    const staging = path.join(w, '.aft', 'runs', 'exp-20260101-000000-abcd.tmp-4200000-xyz'); // a pid above Linux's largest pid_max
    fs.mkdirSync(staging, { recursive: true });
    fs.writeFileSync(
      path.join(staging, 'status.json'),
      JSON.stringify({
        format: 'aft-run-status',
        state: 'running',
        pid: 4200000,
        host: os.hostname(),
        started: '',
        updated: '',
      }),
    );
    assert.deepEqual(listRuns(w), []);
    const s = RunStore.create(w, 'exp', {}, '');
    assert.deepEqual(fs.readdirSync(path.join(w, '.aft', 'runs')), [s.runId]);
    assert.ok(fs.readdirSync(s.dir).includes('status.json'));
    s.finish('completed');
    assert.ok(!fs.readdirSync(s.dir).some((n) => n.includes('.tmp-')), 'the final status took the reserve');
  });

  it('lists runs newest first and ignores folders that are not runs', () => {
    const w = ws();
    const a = RunStore.create(w, 'a', {}, '');
    fs.mkdirSync(path.join(w, '.aft', 'runs', 'junk'));
    const file = path.join(a.dir, 'status.json');
    const st = JSON.parse(fs.readFileSync(file, 'utf8')) as { started: string };
    st.started = '2000-01-01T00:00:00.000Z';
    fs.writeFileSync(file, JSON.stringify(st));
    const b = RunStore.create(w, 'b', {}, '');
    assert.deepEqual(
      listRuns(w).map((r) => r.dir),
      [b.dir, a.dir],
    );
  });

  it("the Runs view's rows come from the store: a summary that cannot be read leaves its run listed, saying why", async () => {
    const w = ws();
    const good = RunStore.create(w, 'good', {}, '');
    const goodSummary = { format: 'aft-run-summary', sources: [], methods: { stl: { test_accuracy: { mean: 0.5 } } } };
    fs.writeFileSync(path.join(good.dir, 'summary.json'), JSON.stringify(goodSummary));
    good.finish('completed');
    const broken = RunStore.create(w, 'broken', {}, '');
    fs.writeFileSync(path.join(broken.dir, 'summary.json'), '{"methods": ');
    broken.finish('completed');
    const rows = runInfos(w);
    // A run marked completed whose summary is damaged is not complete: one failed row saying why.
    assert.deepEqual(rows.map((r) => [r.experiment, r.state]).sort(), [
      ['broken', 'failed'],
      ['good', 'completed'],
    ]);
    assert.deepEqual(rows.find((r) => r.experiment === 'good')?.summary, goodSummary);
    assert.match(
      rows.find((r) => r.experiment === 'broken')?.message ?? '',
      /summary\.json is not valid JSON|cannot read summary\.json|summary\.json/,
    );
    // As the extension's Runs view reads them (no sidecar involved).
    const model = new RunsModel({ listRuns: (dir) => Promise.resolve(runInfos(dir)) }, () => [w], silentLogger);
    await model.refresh();
    assert.deepEqual(model.runs.map((r) => r.experiment).sort(), ['broken', 'good']);
  });

  it('a listing read again sees every change: records replaced or rewritten in place, a damaged status, a folder deleted, a study folder skipped', () => {
    const w = ws();
    const [a, b, c] = writeSyntheticRuns(w, 3);
    const byDir = (): Map<string, RunInfo> => new Map(runInfos(w).map((r) => [r.runDir, r]));
    assert.deepEqual(
      [...byDir().values()].map((r) => r.state),
      ['completed', 'completed', 'completed'],
    );
    // Replaced by rename (as the store writes), then rewritten in place with the same size.
    const summary = JSON.parse(fs.readFileSync(path.join(a, 'summary.json'), 'utf8')) as RunSummary;
    summary.methods.stl.test_accuracy.mean = 0.125;
    writeFileAtomic(path.join(a, 'summary.json'), JSON.stringify(summary));
    assert.equal(byDir().get(a)?.summary?.methods.stl.test_accuracy.mean, 0.125);
    summary.methods.stl.test_accuracy.mean = 0.375;
    fs.writeFileSync(path.join(a, 'summary.json'), JSON.stringify(summary));
    assert.equal(byDir().get(a)?.summary?.methods.stl.test_accuracy.mean, 0.375);
    fs.writeFileSync(path.join(b, 'status.json'), '{"format": "aft-run-status", ');
    fs.rmSync(c, { recursive: true });
    fs.mkdirSync(path.join(w, '.aft', 'runs', 'a-study', 'inner'), { recursive: true });
    const rows = byDir();
    assert.deepEqual([...rows.keys()].sort(), [a, b].sort());
    assert.equal(rows.get(b)?.state, 'failed');
    assert.match(rows.get(b)?.message ?? '', /status\.json is not valid JSON/);
  });

  it('an atomic write that fails leaves the old file and no temporary file', () => {
    const dir = ws();
    const f = path.join(dir, 'x.json');
    writeFileAtomic(f, 'old');
    fs.mkdirSync(path.join(dir, 'x.json.blocker'));
    // Writing over a directory fails at rename: the old content must survive.
    assert.throws(() => writeFileAtomic(path.join(dir, 'x.json.blocker'), 'new'));
    assert.equal(fs.readFileSync(f, 'utf8'), 'old');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['x.json', 'x.json.blocker']);
  });
});
