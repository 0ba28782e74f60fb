/**
 * The extension's sidecar client against a real sidecar process (dist/sidecar/server.js, built
 * by scripts/test.mjs before the tests): spawn, the typed protocol, errors as data, cancel,
 * a killed sidecar and the restart policy, graceful stop.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { SidecarClient, type SidecarFailure, type SidecarState } from '../../extension/src/sidecar/client';
import { RestartPolicy } from '../../extension/src/sidecar/restartPolicy';
import type { RunEvent, StatusEvent } from '../../core/common/protocol/events';
import { readRunStatus } from '../../core/node/runs/store';
import { readStudy } from '../../core/node/runs/studies';
import { rejectsWith, waitFor } from '../helpers/sidecarRpc';
import { WEBGPU_EXPECTED } from '../helpers/backends';
import { until } from '../helpers/numeric';

const root = path.resolve(import.meta.dirname, '..', '..');
const serverScript = path.join(root, 'dist', 'sidecar', 'server.js');
const fixtures = path.join(root, 'test', 'fixtures', 'experiments');
const ablation = path.join(fixtures, 'valid', 'npy-ablation.aft.yaml');
const typos = path.join(fixtures, 'invalid', 'typos.aft.yaml');

const clients: SidecarClient[] = [];
after(async () => {
  for (const c of clients) await c.stop(2000);
});

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'aft-client-'));
}

function client(opts: { policy?: RestartPolicy; serverScript?: string; nodePath?: string } = {}): SidecarClient {
  const c = new SidecarClient({
    serverScript: opts.serverScript ?? serverScript,
    ...(opts.nodePath ? { nodePath: opts.nodePath } : {}),
    env: { AFT_CACHE_DIR: path.join(tmpdir(), 'cache') },
    init: { maxConcurrentRuns: 1 },
    ...(opts.policy ? { policy: opts.policy } : {}),
  });
  clients.push(c);
  return c;
}

const statusOf =
  (runId: string, state?: string) =>
  (e: RunEvent): e is StatusEvent =>
    e.type === 'status' && e.runId === runId && (state === undefined ? e.state !== 'running' : e.state === state);

function waitState(c: SidecarClient, state: SidecarState, timeoutMs = 30_000): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for state ${state} (now ${c.state})`)),
      timeoutMs,
    );
    const sub = c.onState((s) => {
      if (s === state) {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      }
    });
  });
}

describe('sidecar client against a real sidecar', () => {
  it('spawns the sidecar and initializes: versions, backends, devices', async () => {
    assert.ok(fs.existsSync(serverScript), 'dist/sidecar/server.js is built (npm run build)');
    const c = client();
    const info = await c.start();
    assert.equal(c.state, 'ready');
    assert.equal(info.pid, c.pid);
    assert.ok(info.backends.some((b) => b.id === 'cpu' && b.available));
    assert.ok(info.defaultBackend);
    assert.equal(info.devices[0]?.kind, 'cpu');
    assert.ok(info.versions['@tensorflow/tfjs']);
    // webgpu is probed with its adapter; a software adapter (lavapipe in CI) is not auto's pick.
    const webgpu = info.backends.find((b) => b.id === 'webgpu');
    assert.ok(webgpu, 'no webgpu entry');
    if (WEBGPU_EXPECTED) {
      assert.ok(webgpu.available && webgpu.adapter, `webgpu is not available: ${webgpu.reason}`);
      if (webgpu.adapter.software) {
        assert.match(webgpu.notAuto ?? '', /software adapter/);
        assert.notEqual(info.defaultBackend, 'webgpu');
      }
    }
  });

  it('validates files without running them, and refuses an invalid file with the reasons', async () => {
    const c = client();
    const ok = await c.validate(ablation);
    assert.equal(ok.name, 'npy-ablation');
    assert.deepEqual(ok.methods, ['aft', 'aft-rbf', 'aft-dense', 'aft-fixed', 'aft-bilevel', 'aft-no-kernel']);
    const bad = await c.validate(typos);
    assert.ok(bad.problems.some((p) => p.field === 'train.optimiser' && p.severity === 'error'));
    const err = await rejectsWith(
      c.run({ file: typos, workspaceDir: tmpdir() }),
      'bad_input',
      /problems? in the experiment file/,
    );
    assert.ok(err.data?.details?.some((d) => /optimiser/.test(d)));
    assert.ok(err.data?.location?.line);
  });

  it('runs an experiment: events arrive, the run completes, and listRuns shows its summary', async () => {
    const c = client();
    const ws = tmpdir();
    const events: RunEvent[] = [];
    c.onRunEvent((e) => events.push(e));
    const started = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 12 });
    assert.ok(fs.existsSync(started.runDir));
    const done = await waitFor(c, statusOf(started.runId));
    assert.equal(done.state, 'completed', done.message);
    assert.ok(events.some((e) => e.type === 'progress'));
    assert.ok(events.some((e) => e.type === 'metrics'));
    assert.ok(events.some((e) => e.type === 'result' && e.method === 'aft'));
    const runs = await c.listRuns(ws);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].state, 'completed');
    assert.ok(runs[0].summary?.methods['aft']!.test_accuracy.mean !== undefined);
  });

  it('runs a study file: one study folder, whole-study progress, the last value ends it; a changed file is refused by field', async () => {
    const c = client();
    const ws = tmpdir();
    const file = path.join(ws, 'study.aft.yaml');
    const text = `name: rpc-study
dataset: { source: mnist, train: 60, test: 60 }
pretrained:
  - { name: noise, noise: 4 }
downstream: { hidden: [8] }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 8, batch: 16 }
study: { vary: pretrained.0.noise, values: [2, 4] }
`;
    fs.writeFileSync(file, text);
    const events: RunEvent[] = [];
    c.onRunEvent((e) => events.push(e));
    const started = await c.run({ file, workspaceDir: ws });
    assert.ok(started.studyDir && fs.existsSync(path.join(started.studyDir, 'study.json')));
    // The study ends at its last value's end, or at the first value that does not complete.
    const last = await waitFor(
      c,
      (e): e is StatusEvent =>
        e.type === 'status' && e.state !== 'running' && (e.study?.value === 1 || e.state !== 'completed'),
    );
    assert.equal(last.state, 'completed', `value ${last.study?.value}: ${last.message}`);
    assert.equal(last.study?.value, 1);
    assert.equal(last.study?.studyDir, started.studyDir);
    assert.ok(events.some((e) => e.type === 'progress' && e.study && e.study.fraction > 0.5));
    assert.equal(readStudy(started.studyDir).state, 'completed');
    // The file changed: a new study (the last one is complete); stopped, then the file changes
    // back: that unfinished study is refused by field (the extension then offers a new study).
    fs.writeFileSync(file, text.replace('values: [2, 4]', 'values: [2, 4, 8]'));
    const second = await c.run({ file, workspaceDir: ws });
    await c.cancel(second.runId);
    await waitFor(c, statusOf(second.runId));
    fs.writeFileSync(file, text);
    await rejectsWith(c.run({ file, workspaceDir: ws }), 'bad_input', /another version of this file/);
    const fresh = await c.run({ file, workspaceDir: ws, newStudy: true });
    assert.notEqual(fresh.studyDir, second.studyDir);
    await c.cancel(fresh.runId);
  });

  it('refuses a run started twice, an unwritable runs folder, unknown methods; no extraction of a running file', async () => {
    const c = client();
    const ws = tmpdir();
    const first = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 100_000 });
    await rejectsWith(c.run({ file: ablation, workspaceDir: ws }), 'busy', /already running/);
    await rejectsWith(
      c.run({ file: path.join(fixtures, 'valid', 'mnist-demo.aft.yaml'), workspaceDir: ws }),
      'busy',
      /at most 1 may run at once/,
    );
    await rejectsWith(
      c.extract({ file: ablation, workspaceDir: ws }),
      'busy',
      /npy-ablation\.aft\.yaml is running \(npy-ablation-/,
    );
    assert.equal(await c.cancel(first.runId), true);
    await waitFor(c, statusOf(first.runId, 'cancelled'));
    const file = path.join(tmpdir(), 'not-a-folder');
    fs.writeFileSync(file, '');
    await rejectsWith(c.run({ file: ablation, workspaceDir: file }), 'bad_input', /runs folder .* is not writable/);
    await rejectsWith(
      c.run({ file: ablation, workspaceDir: ws, methods: ['nope'] }),
      'bad_input',
      /unknown method nope/,
    );
  });

  it('cancel reaches the training loop quickly and the store says cancelled', async () => {
    const c = client();
    const ws = tmpdir();
    const started = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 100_000 });
    await waitFor(c, (e): e is RunEvent => e.type === 'progress' && e.runId === started.runId && e.step > 0);
    const t0 = performance.now();
    assert.equal(await c.cancel(started.runId), true);
    await waitFor(c, statusOf(started.runId, 'cancelled'), 10_000);
    assert.ok(performance.now() - t0 < 5000, `cancelled in ${Math.round(performance.now() - t0)} ms`);
    assert.equal(readRunStatus(started.runDir).state, 'cancelled');
  });

  it('a killed sidecar is restarted, and its in-flight run is marked failed in the store', async () => {
    const c = client();
    const ws = tmpdir();
    const first = await c.start();
    const started = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 100_000 });
    await waitFor(c, (e): e is RunEvent => e.type === 'progress' && e.runId === started.runId);
    const failed = waitFor(c, statusOf(started.runId, 'failed'));
    process.kill(first.pid, 'SIGKILL');
    const ev = await failed;
    assert.match(ev.message ?? '', /killed \(SIGKILL\)/);
    // The run's own process sees its sidecar go and ends, its store saying so (not only readers).
    const raw = (): { state: string; message: string } =>
      JSON.parse(fs.readFileSync(path.join(started.runDir, 'status.json'), 'utf8')) as {
        state: string;
        message: string;
      };
    await until('the store says failed', () => raw().state === 'failed', 10_000);
    assert.match(raw().message, new RegExp(`sidecar that ran it \\(pid ${first.pid}\\) ended`));
    await waitState(c, 'ready');
    assert.notEqual(c.pid, first.pid);
    const again = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 12 });
    assert.equal((await waitFor(c, statusOf(again.runId))).state, 'completed');
  });

  it('a run outlives its window: the closing window lets its sidecar go, the next one stops the run', async () => {
    const ws = tmpdir();
    const a = client();
    const first = await a.start();
    const started = await a.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 100_000 });
    await waitFor(a, (e): e is RunEvent => e.type === 'progress' && e.runId === started.runId && e.step > 0);
    // The window closes (deactivate): the sidecar is let go, not stopped.
    assert.deepEqual(await a.detachOrStop(2000), [started.runId]);
    assert.equal(a.state, 'stopped');
    // Progress is recorded in status.json at most once a second while steps go on.
    const label = (): number => readRunStatus(started.runDir).progress?.fraction ?? 0;
    const before = label();
    await until('the run trains on with no window', () => label() !== before);
    process.kill(first.pid, 0); // alive
    assert.equal(readRunStatus(started.runDir).state, 'running');

    // The next window: a new sidecar lists the run as running and stops it through its folder.
    const b = client();
    const second = await b.start();
    assert.notEqual(second.pid, first.pid);
    const listed = (await b.listRuns(ws)).find((r) => r.runId === started.runId);
    assert.equal(listed?.state, 'running');
    assert.equal(await b.cancel(started.runId), false, 'without its folder, a run b does not train is not found');
    assert.equal(await b.cancel(started.runId, started.runDir), true);
    await until('the run ends cancelled', () => readRunStatus(started.runDir).state === 'cancelled', 30_000);
    await until(
      'the let-go sidecar exits after its last run',
      () => {
        try {
          process.kill(first.pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      30_000,
    );
    // A window that closes with no run in flight stops its sidecar.
    assert.deepEqual(await b.detachOrStop(5000), []);
    assert.throws(() => process.kill(second.pid, 0), /ESRCH/);
  });

  it('gives up after too many crashes and reports the last stderr lines', async () => {
    const c = client({ policy: new RestartPolicy(1, 60_000) });
    const failures: SidecarFailure[] = [];
    c.onFailure((f) => failures.push(f));
    process.kill((await c.start()).pid, 'SIGKILL');
    await waitState(c, 'restarting');
    await waitState(c, 'ready');
    process.kill(c.pid!, 'SIGKILL');
    await waitState(c, 'failed');
    assert.equal(failures.length, 1);
    assert.match(failures[0].message, /crashed 2 times within 1 minutes/);
    assert.ok(failures[0].stderrTail.some((l) => /listening on stdio/.test(l)));
    // Restarting by hand forgets the crashes.
    await c.restart();
    assert.equal(c.state, 'ready');
  });

  it('a missing sidecar or Node executable fails to start with a clear message', async () => {
    const missing = client({ serverScript: path.join(tmpdir(), 'nope.js') });
    await assert.rejects(missing.start(), /exited with code 1/);
    assert.equal(missing.state, 'failed');
    assert.ok(missing.failure?.stderrTail.some((l) => /Cannot find module/.test(l)));
    const badNode = client({ nodePath: '/nonexistent/node' });
    await assert.rejects(
      badNode.start(),
      /could not start the sidecar with Node '\/nonexistent\/node': spawn \/nonexistent\/node ENOENT/,
    );
    assert.equal(badNode.state, 'failed');
  });

  it('stop is graceful (runs end cancelled) and kills a sidecar that does not exit in time', async () => {
    const c = client();
    const ws = tmpdir();
    const started = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 100_000 });
    await c.stop(5000);
    assert.equal(c.state, 'stopped');
    assert.equal(readRunStatus(started.runDir).state, 'cancelled');

    // A sidecar that answers initialize but ignores shutdown.
    const stubborn = path.join(tmpdir(), 'stubborn.js');
    fs.writeFileSync(
      stubborn,
      `const rpc = require(${JSON.stringify(require.resolve('vscode-jsonrpc/node'))});
const c = rpc.createMessageConnection(new rpc.StreamMessageReader(process.stdin), new rpc.StreamMessageWriter(process.stdout));
c.onRequest('aft/initialize', () => ({ protocolVersion: 2, sidecarVersion: 'stub', pid: process.pid, node: process.version, platform: '', versions: {}, backends: [], defaultBackend: null, devices: [] }));
c.onRequest('aft/shutdown', () => new Promise(() => {}));
c.listen();
process.stdin.on('end', () => {});
setInterval(() => {}, 1000);`,
    );
    const s = client({ serverScript: stubborn });
    const info = await s.start();
    const t0 = performance.now();
    await s.stop(500);
    assert.ok(performance.now() - t0 < 3000);
    assert.throws(() => process.kill(info.pid, 0), /ESRCH/);
  });
});
