/**
 * The `aft` CLI as a user runs it (a real child process): exit codes, messages that say where
 * and what, `--json` events, Ctrl-C, and a kill -9 that must not leave a run looking alive.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { listRuns, readRunStatus } from '../../core/node/runs/store';
import { aftArgs, runAft } from '../helpers/cli';

const root = path.join(__dirname, '..', '..');
const ablation = path.join(root, 'test', 'fixtures', 'experiments', 'valid', 'npy-ablation.aft.yaml');

const aft = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  runAft(args, cwd, { AFT_CACHE_DIR: path.join(cwd, 'cache'), ...env });

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cli-'));
}

function waitForRunning(child: ChildProcess, ws: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const runs = listRuns(ws);
      const r = runs[0];
      if (r?.status.progress && r.status.state === 'running') {
        clearInterval(t);
        resolve(r.dir);
      }
    }, 100);
    child.on('exit', () => {
      clearInterval(t);
      reject(new Error('aft exited before the run started'));
    });
  });
}

describe('aft CLI', () => {
  it('--help exits 0 and lists the commands', () => {
    const r = aft(['--help'], tmpdir());
    assert.equal(r.code, 0);
    assert.match(r.stdout, /aft run FILE/);
    assert.match(r.stdout, /aft demo/);
    assert.match(r.stdout, /aft gpu check/);
  });

  it('an invalid experiment file exits 2 naming file, line, column and field', () => {
    const ws = tmpdir();
    const f = path.join(ws, 'bad.aft.yaml');
    fs.writeFileSync(f, 'name: x\ndataset: { source: mnist }\nmethods: [stl]\ntrain: { stpes: 10 }\n');
    const r = aft(['run', f], ws);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.aft\.yaml:4:10: error: train\.stpes: unknown key `stpes` \(did you mean `steps`\?\)/);
  });

  it('an unknown option exits 2', () => {
    const r = aft(['run', ablation, '--bogus'], tmpdir());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bogus/);
  });

  it(
    'a backend asked for by name that cannot start exits 2 with why',
    { skip: process.platform !== 'linux' && 'Vulkan loader variables are Linux only' },
    () => {
      // No Vulkan driver: WebGPU has no adapter.
      const noDriver = path.join(root, 'no-such-icd.json');
      const r = aft(['run', ablation, '--backend', 'webgpu', '--steps', '1'], tmpdir(), {
        VK_ICD_FILENAMES: noDriver,
        VK_DRIVER_FILES: noDriver,
      });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /error: backend webgpu was asked for but cannot start: WebGPU found no adapter/);
    },
  );

  it('--json prints one JSON event per line, ending with the completed status', () => {
    const ws = tmpdir();
    const r = aft(['run', ablation, '--json', '--methods', 'aft', '--steps', '12', '--workspace', ws], ws);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; state?: string });
    assert.ok(events.some((e) => e.type === 'metrics'));
    assert.ok(events.some((e) => e.type === 'result'));
    assert.deepEqual(events.at(-1), { ...events.at(-1), type: 'status', state: 'completed' });
  });

  it('Ctrl-C cancels: exit 1 and the run says cancelled', async () => {
    const ws = tmpdir();
    const child = spawn(process.execPath, aftArgs(['run', ablation, '--steps', '100000', '--methods', 'aft']), {
      cwd: ws,
      stdio: 'ignore',
    });
    const dir = await waitForRunning(child, ws);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.equal(readRunStatus(dir).state, 'cancelled');
  });

  it('kill -9 leaves a run that reads as failed, never running or complete', async () => {
    const ws = tmpdir();
    const child = spawn(process.execPath, aftArgs(['run', ablation, '--steps', '100000', '--methods', 'aft']), {
      cwd: ws,
      stdio: 'ignore',
    });
    const dir = await waitForRunning(child, ws);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')) as { state: string };
    assert.equal(raw.state, 'running', 'the killed process could not write anything');
    const s = readRunStatus(dir);
    assert.equal(s.state, 'failed');
    assert.match(s.message ?? '', /ended without finishing/);
    assert.ok(!fs.existsSync(path.join(dir, 'summary.json')));
  });
});

describe('aft gpu', () => {
  it('check on this machine: says what is missing, exit 1 where something is (no CUDA here), 0 where all is usable', () => {
    const ws = tmpdir();
    const r = aft(['gpu', 'check', '--dir', path.join(ws, 'rt')], ws);
    assert.match(r.stdout, /^GPU runtime folder: /);
    for (const id of ['gpu', 'onnx-cuda', 'webgpu'])
      assert.match(r.stdout, new RegExp(`^(ok     |MISSING) ${id}:`, 'm'));
    const json = aft(['gpu', 'check', '--json', '--dir', path.join(ws, 'rt')], ws);
    const report = JSON.parse(json.stdout) as {
      driver?: unknown;
      allUsable: boolean;
      verdicts: { id: string; usable: boolean; todo: string[] }[];
    };
    assert.equal(r.code, report.allUsable ? 0 : 1);
    assert.equal(json.code, r.code);
    if (!report.driver) {
      // No NVIDIA driver (this machine, CI): both CUDA builds are missing and it says why.
      assert.equal(r.code, 1);
      assert.match(r.stdout, /NVIDIA driver: none/);
      assert.match(r.stdout, /- no NVIDIA driver/);
      assert.match(r.stdout, /- @tensorflow\/tfjs-node-gpu is not installed/);
      for (const v of report.verdicts.filter((x) => x.id !== 'webgpu')) assert.equal(v.usable, false);
    }
    for (const v of report.verdicts.filter((x) => !x.usable))
      assert.ok(v.todo.length > 0, `${v.id} says what to install`);
  });

  it('install without network fails within seconds, says so, exits 1 and changes nothing', () => {
    const ws = tmpdir();
    const t0 = performance.now();
    const r = aft(['gpu', 'install', '--dir', path.join(ws, 'rt')], ws, { AFT_GPU_HOSTS: 'https://127.0.0.1:9/' });
    assert.ok(performance.now() - t0 < 15_000);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot download the GPU runtime: 127\.0\.0\.1:9 \(ECONNREFUSED\) cannot be reached.*Nothing was changed/,
    );
    assert.deepEqual(
      fs.readdirSync(ws).filter((f) => f !== 'cache'),
      [],
    );
  });

  it('bad arguments exit 2', () => {
    const ws = tmpdir();
    for (const args of [['gpu'], ['gpu', 'frob'], ['gpu', 'check', 'extra'], ['gpu', 'check', '--dir']]) {
      const r = aft(args, ws);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /m);
    }
  });
});
