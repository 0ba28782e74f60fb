/** The vscode-free parts of the extension: restart policy, run model, formatting, GPU installer refusals. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GpuInstallError, gpuRuntimeDir, installGpuRuntime } from '../../../core/node/gpu/install';
import { accuracyText, progressText, resultsLine } from '../../../extension/src/runs/format';
import { RunsModel } from '../../../extension/src/runs/model';
import { RestartPolicy } from '../../../extension/src/sidecar/restartPolicy';
import { silentLogger } from '../../../extension/src/util/log';
import type { MethodSummary } from '../../../core/common/protocol/events';
import type { RunInfo } from '../../../core/common/protocol/rpc';
import { markAbandonedRun } from '../../../core/node/runs/abandoned';

const method = (mean: number, se: number, seeds: number[]): MethodSummary => ({
  kind: 'aft',
  test_accuracy: { mean, se, per_seed: Object.fromEntries(seeds.map((s) => [String(s), mean])) },
  beta: 10,
  tuning: [],
  train_seconds: 3,
});

describe('restart policy', () => {
  it('allows N restarts within the window, then refuses; old crashes age out', () => {
    let now = 0;
    const p = new RestartPolicy(2, 60_000, () => now);
    assert.equal(p.recordCrash(), true);
    now = 10_000;
    assert.equal(p.recordCrash(), true);
    now = 20_000;
    assert.equal(p.recordCrash(), false);
    now = 200_000;
    assert.equal(p.recordCrash(), true, 'crashes older than the window are forgotten');
    p.reset();
    assert.equal(p.recordCrash(), true);
  });
});

describe('run formatting', () => {
  it('shows accuracy as mean ± SE in percent, and progress with the time left', () => {
    assert.equal(accuracyText(method(0.8123, 0.0041, [0, 1, 2])), '81.23 ± 0.41 %');
    assert.equal(
      progressText({ fraction: 0.425, label: 'aft seed 0 β=10', etaSeconds: 75 }),
      '42% · aft seed 0 β=10 · 1 min 15 s left',
    );
    assert.equal(
      progressText({ fraction: 0, label: 'building mnist-teacher', etaSeconds: null }),
      '0% · building mnist-teacher',
    );
    assert.equal(resultsLine({ stl: method(0.742, 0, [0]), aft: method(0.801, 0, [0]) }), 'stl 74.2%, aft 80.1%');
  });
});

describe('runs model', () => {
  it('merges the store listing with live events, and a terminal event wins over a stale read', async () => {
    let listing: RunInfo[] = [
      {
        runId: 'r1',
        runDir: '/ws/.aft/runs/r1',
        experiment: 'demo',
        state: 'running',
        started: '2026-01-01T00:00:00Z',
      },
    ];
    const model = new RunsModel({ listRuns: () => Promise.resolve(listing) }, () => ['/ws'], silentLogger);
    await model.refresh();
    model.handle({
      type: 'progress',
      runId: 'r1',
      label: 'stl seed 0',
      step: 5,
      steps: 10,
      job: 1,
      jobs: 2,
      fraction: 0.25,
      etaSeconds: 3,
    });
    assert.equal(model.running[0]?.live?.fraction, 0.25);
    model.handle({ type: 'result', runId: 'r1', method: 'stl', result: method(0.7, 0, [0]) });
    assert.deepEqual(Object.keys(model.get('r1')!.results), ['stl']);
    // The store still says running when the refresh triggered by the event reads it.
    model.handle({
      type: 'status',
      runId: 'r1',
      state: 'cancelled',
      runDir: '/ws/.aft/runs/r1',
      message: 'cancelled by the user',
    });
    await model.refresh();
    assert.equal(model.get('r1')?.state, 'cancelled');
    listing = [];
    await model.refresh();
    assert.equal(model.runs.length, 0, 'a deleted run disappears');
  });

  it('redraws the view after a listing only when it changed something (a redraw loses a click on a row)', async () => {
    const run: RunInfo = {
      runId: 'r1',
      runDir: '/ws/.aft/runs/r1',
      experiment: 'demo',
      state: 'running',
      started: '2026-01-01T00:00:00Z',
      progress: { fraction: 0.1, label: 'stl seed 0', etaSeconds: 9 },
    };
    let listing: RunInfo[] = [run];
    const model = new RunsModel({ listRuns: () => Promise.resolve(listing) }, () => ['/ws'], silentLogger);
    let fired = 0;
    model.onDidChange(() => fired++);
    await model.refresh();
    await model.refresh();
    assert.equal(fired, 1, 'the same listing twice: one redraw');
    listing = [{ ...run, progress: { ...run.progress!, fraction: 0.2 } }];
    await model.refresh();
    assert.equal(fired, 2, 'progress moved');
    listing = [{ ...run, state: 'completed', summary: undefined }];
    await model.refresh();
    await model.refresh();
    assert.equal(fired, 3, 'completed, then nothing new');
  });
});

describe('runs model across workspace folders', () => {
  it("keeps a folder's runs when its listing fails, and drops them when the folder is closed", async () => {
    const row = (ws: string, runId: string): RunInfo => ({
      runId,
      runDir: `${ws}/.aft/runs/${runId}`,
      experiment: 'demo',
      state: 'completed',
      started: '2026-01-01T00:00:00Z',
    });
    let dirs = ['/a', '/b'];
    let failing = false;
    const model = new RunsModel(
      {
        listRuns: (dir) => {
          if (failing && dir === '/b') return Promise.reject(new Error('EACCES'));
          return Promise.resolve(dir === '/a' ? [row('/a', 'a1')] : [row('/b', 'b1'), row('/b', 'b2')]);
        },
      },
      () => dirs,
      silentLogger,
    );
    await model.refresh();
    assert.deepEqual(model.runs.map((r) => r.runId).sort(), ['a1', 'b1', 'b2']);
    failing = true;
    await model.refresh();
    assert.deepEqual(
      model.runs.map((r) => r.runId).sort(),
      ['a1', 'b1', 'b2'],
      'a failed listing keeps what was known',
    );
    dirs = ['/a'];
    await model.refresh();
    assert.deepEqual(
      model.runs.map((r) => r.runId),
      ['a1'],
      "a closed folder's runs go",
    );
  });
});

describe('abandoned runs', () => {
  it('marks a run failed when it still says running for the dead process, or for a process that is gone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-abandon-'));
    const file = path.join(dir, 'status.json');
    const write = (s: object): void => fs.writeFileSync(file, JSON.stringify(s));
    const read = (): { state: string; message: string; finished: string; runId: string } =>
      JSON.parse(fs.readFileSync(file, 'utf8')) as { state: string; message: string; finished: string; runId: string };
    // This process is alive: a run it trains is its own, whoever else died.
    write({ state: 'running', pid: process.pid, runId: 'x' });
    assert.equal(markAbandonedRun(dir, 999, 'gone'), false, 'a live process owns it');
    assert.equal(read().state, 'running');
    assert.equal(markAbandonedRun(dir, process.pid, 'the sidecar was killed (SIGKILL)'), true);
    assert.equal(read().state, 'failed');
    assert.equal(read().runId, 'x');
    assert.match(read().message, /SIGKILL/);
    assert.ok(read().finished);
    assert.equal(markAbandonedRun(dir, process.pid, 'again'), false, 'a finished run is left alone');
    // A run process that died with its sidecar: above Linux's largest pid, so never alive.
    write({ state: 'running', pid: 2 ** 22 + 1, runId: 'y' });
    assert.equal(markAbandonedRun(dir, 999, 'its sidecar was killed'), true);
    assert.equal(read().state, 'failed');
    assert.deepEqual(fs.readdirSync(dir), ['status.json'], 'no temporary files left');
  });
});

describe('GPU runtime installer', () => {
  it('without network it fails within seconds with a clear message and changes nothing', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-gpu-'));
    const t0 = performance.now();
    // An address that refuses at once, standing in for hosts that cannot be reached.
    await assert.rejects(
      installGpuRuntime({ dir: gpuRuntimeDir(storage), hosts: ['https://127.0.0.1:9/'], probeTimeoutMs: 3000 }),
      (e: unknown) =>
        e instanceof GpuInstallError && /cannot be reached/.test(e.message) && /Nothing was changed/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 5000);
    assert.deepEqual(fs.readdirSync(storage), []);
    assert.equal(fs.existsSync(gpuRuntimeDir(storage)), false);
  });
});
