/**
 * What the disk fault suite needs: small tmpfs workspaces (root only: CI runs as root), the
 * three smallest real experiments that reach every write point (run store only; an ONNX model
 * whose features are cached in chunks; the built-in teacher, built in one epoch through the
 * test-only AFT_TEACHER_STEPS), the built `aft` CLI as a child process with the test-only fault
 * hook (AFT_TEST_FAULT, core/node/util/faults.ts), and an audit of everything on disk: what
 * claims to be complete and is not, files under final names that are not whole, and
 * temporary files left behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunEvent } from '../../core/common/protocol/events';
import { checkRhoFile, checkSummary } from '../../core/common/runs/records';
import { readSafetensors, readSafetensorsHeader } from '../../core/node/io/safetensors';
import { listRuns, readRunStatus } from '../../core/node/runs/store';
import { listStudies, STUDY_RUNS } from '../../core/node/runs/studies';
import type { StudyInfo } from '../../core/common/runs/study';
import type { FaultAction } from '../../core/node/util/faults';
import { isTempName } from '../../core/node/util/fsx';
import { decodeModel } from '../../sidecar/src/export/proto';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'sidecar', 'cli.js');

export type WorkspaceKind = 'store' | 'study' | 'cache' | 'teacher';

// ---------------------------------------------------------------------------------------------
// tmpfs

export function mountTmpfs(dir: string, megabytes: number): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir]);
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  }
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir]);
}

/** Whether this process may mount file systems (root on Linux). */
export function canMount(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-mount-probe-'));
  try {
    mountTmpfs(probe, 1);
    unmount(probe);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// the three workspaces

/** Megabytes of tmpfs each workspace needs (with room to spare before a fault fills it). */
export const TMPFS_MB: Record<WorkspaceKind, number> = { store: 4, study: 4, cache: 4, teacher: 10 };

const npyData = (ws: string): string => {
  const data = path.join(ws, 'data');
  fs.cpSync(path.join(root, 'test', 'fixtures', 'data'), data, { recursive: true });
  return 'dataset: { source: npy, train: { inputs: data/x_train.npy, labels: data/y_train.npy }, test: { inputs: data/x_test.npy, labels: data/y_test.npy } }';
};

/**
 * Writes a workspace's data and `exp.aft.yaml`:
 * - store: precomputed + 64 noise features, an MLP of 256x256 (checkpoints of ~270 KB, so a
 *   full disk cuts their write short): every run store file;
 * - study: the store's experiment as a study over two noise widths: the study folder and its
 *   runs (a fault in the second value's run leaves the first to be kept when it continues);
 * - cache: 1,200 arrays through a small ONNX MLP (16 features): three chunks of 32 KB, then
 *   features.safetensors (77 KB) and meta.json;
 * - teacher: 100 + 100 MNIST digits through the built-in teacher (2.1 MB, and its 2.1 MB ONNX export).
 */
export function makeWorkspace(kind: WorkspaceKind, ws: string): void {
  let text: string;
  if (kind === 'store' || kind === 'study') {
    text = `name: faults-${kind}
${npyData(ws)}
pretrained:
  - { name: clip, features: { train: data/f_train.npy, test: data/f_test.npy } }
  - { name: noise, noise: 64 }
downstream: { model: mlp, hidden: [256, 256] }
methods: [aft]
beta: { aft: 1 }
train: { steps: 3, batch: 32 }
${kind === 'study' ? 'study: { vary: pretrained.1.noise, values: [32, 64] }\n' : ''}`;
  } else if (kind === 'cache') {
    writeArrayWorkspace(ws, { train: 1000, test: 200 }, path.join(ws, 'data'));
    text = `name: faults-cache
dataset: { source: npy, train: { inputs: data/x_train.npy, labels: data/y_train.npy }, test: { inputs: data/x_test.npy, labels: data/y_test.npy } }
pretrained:
  - { name: mlp, onnx: { model: model.onnx, output: features, batch: 256 } }
downstream: { model: mlp, hidden: [16] }
methods: [stl]
train: { steps: 1, batch: 250 }
`;
  } else {
    text = `name: faults-teacher
dataset: { source: mnist, train: 100, test: 100 }
pretrained:
  - { name: teacher, builtin: mnist-teacher }
downstream: { model: mlp, hidden: [16] }
methods: [stl]
train: { steps: 1, batch: 50 }
`;
  }
  fs.writeFileSync(path.join(ws, 'exp.aft.yaml'), text);
}

// ---------------------------------------------------------------------------------------------
// the CLI

export interface AftResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout's JSON lines (with --json). */
  events: RunEvent[];
}

export interface FaultSpec {
  match: string;
  nth: number;
  action: FaultAction;
  ballast?: string;
  mount?: string;
}

/** The user's cache folder (the built-in teacher) of a workspace: inside it, so on its tmpfs. */
export const userCache = (ws: string): string => path.join(ws, 'user-cache');

/** Runs the built CLI in `ws` (`aft run exp.aft.yaml --json` by default), with a fault when given. */
export function aft(
  ws: string,
  fault?: FaultSpec,
  args = ['run', 'exp.aft.yaml', '--json', '--backend', 'wasm'],
): Promise<AftResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, AFT_CACHE_DIR: userCache(ws), AFT_TEACHER_STEPS: '1' };
  delete env.AFT_TEST_FAULT;
  if (fault) env.AFT_TEST_FAULT = JSON.stringify(fault);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args, '--workspace', ws], {
      cwd: ws,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const events: RunEvent[] = [];
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          events.push(JSON.parse(line) as RunEvent);
        } catch {
          // not an event
        }
      }
      resolve({ code, signal, stdout, stderr, events });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// the audit

export interface Audit {
  /** Runs that read as completed but are not whole, and cache entries or teachers whose completion marker is there over damaged files. */
  lookingComplete: string[];
  /** Files under final names that are not whole (cut short or not parseable). */
  damaged: string[];
  /** Temporary files and folders (`*.tmp-*`). */
  temps: string[];
  /** Runs as `aft runs` lists them, then the runs of every study, newest first. */
  runs: ReturnType<typeof listRuns>;
  /** The workspace's studies as `aft runs` reads them. */
  studies: StudyInfo[];
}

function walk(dir: string, out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory() && !isTempName(e.name)) walk(p, out);
  }
  return out;
}

/** Why a file under a final name is not whole, or undefined when it is. */
function notWhole(file: string, runCompleted: boolean): string | undefined {
  const base = path.basename(file);
  try {
    if (base.endsWith('.json')) {
      JSON.parse(fs.readFileSync(file, 'utf8'));
    } else if (base.endsWith('.safetensors')) {
      const h = readSafetensorsHeader(file);
      const end = Math.max(0, ...Object.values(h.tensors).map((t) => t.data_offsets[1]));
      if (h.dataStart + end !== fs.statSync(file).size) return 'its size is not what its header says';
    } else if (base.endsWith('.onnx')) {
      decodeModel(fs.readFileSync(file));
    } else if (base === 'metrics.jsonl') {
      const text = fs.readFileSync(file, 'utf8');
      const lines = text.split('\n');
      const last = lines.pop();
      // A killed run may leave a partial last line (readers wait for its newline); a complete run may not.
      if (last && runCompleted) return 'a partial last line';
      for (const l of lines) JSON.parse(l);
    }
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
  return undefined;
}

/** Everything a workspace holds after a fault: see `Audit`. */
export function audit(ws: string): Audit {
  const lookingComplete: string[] = [];
  const damaged: string[] = [];
  const studies = listStudies(ws);
  const runs = [
    ...listRuns(ws),
    ...studies
      .flatMap((st) => studyRunDirs(st.dir))
      .map((dir) => ({ dir, status: readRunStatus(dir) }))
      .sort((a, b) => b.status.started.localeCompare(a.status.started)),
  ];
  const completed = new Set(runs.filter((r) => r.status.state === 'completed').map((r) => r.dir));
  const files = [...walk(path.join(ws, '.aft')), ...walk(userCache(ws))];
  const temps = files.filter((f) => isTempName(path.basename(f)));
  for (const f of files) {
    if (isTempName(path.basename(f)) || !fs.statSync(f).isFile()) continue;
    const run = [...completed].find((d) => f.startsWith(d + path.sep));
    const why = notWhole(f, run !== undefined);
    if (why) {
      damaged.push(`${path.relative(ws, f)}: ${why}`);
      if (run)
        lookingComplete.push(
          `run ${path.basename(run)} reads as completed but ${path.relative(run, f)} is not whole (${why})`,
        );
    }
  }
  for (const r of runs.filter((x) => x.status.state === 'completed')) {
    const s = checkSummary(JSON.parse(fs.readFileSync(path.join(r.dir, 'summary.json'), 'utf8')));
    if (!s.ok) lookingComplete.push(`run ${r.status.runId}: summary.json ${s.error}`);
    else {
      for (const [method, m] of Object.entries(s.value.methods)) {
        for (const seed of Object.keys(m.test_accuracy.per_seed)) {
          const ckpt = path.join(r.dir, 'checkpoints', `${method}-seed-${seed}.safetensors`);
          if (!fs.existsSync(ckpt)) lookingComplete.push(`run ${r.status.runId} lacks ${path.relative(r.dir, ckpt)}`);
        }
      }
    }
    for (const f of walk(path.join(r.dir, 'rho')).filter((x) => x.endsWith('.json'))) {
      const checked = (() => {
        try {
          return checkRhoFile(JSON.parse(fs.readFileSync(f, 'utf8')));
        } catch (e) {
          return { ok: false as const, error: (e as Error).message };
        }
      })();
      if (!checked.ok) lookingComplete.push(`run ${r.status.runId}: ${path.relative(r.dir, f)} ${checked.error}`);
    }
  }
  // Feature cache entries: meta.json says complete; the features must be whole and match it.
  for (const meta of files.filter(
    (f) => path.basename(f) === 'meta.json' && f.includes(`${path.sep}features${path.sep}`),
  )) {
    const feats = path.join(path.dirname(meta), 'features.safetensors');
    try {
      const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as {
        rows: { train: number; test: number };
        features?: { bytes: number };
      };
      const t = readSafetensors(feats).tensors;
      if (
        t.train?.shape[0] !== m.rows.train ||
        t.test?.shape[0] !== m.rows.test ||
        (m.features && fs.statSync(feats).size !== m.features.bytes)
      )
        throw new Error('does not match meta.json');
    } catch (e) {
      lookingComplete.push(
        `feature cache ${path.relative(ws, path.dirname(meta))} has meta.json over damaged features (${(e as Error).message.split('\n')[0]})`,
      );
    }
  }
  // The teacher: its metadata file says complete; the weights must be whole.
  for (const meta of files.filter(
    (f) => f.endsWith('.safetensors.json') && f.includes(`${path.sep}teachers${path.sep}`),
  )) {
    const weights = meta.slice(0, -'.json'.length);
    try {
      const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as { bytes?: number };
      readSafetensors(weights);
      if (m.bytes !== undefined && fs.statSync(weights).size !== m.bytes)
        throw new Error(`size is not the ${m.bytes} bytes its metadata says`);
    } catch (e) {
      lookingComplete.push(
        `teacher ${path.relative(ws, weights)} has its metadata over damaged weights (${(e as Error).message.split('\n')[0]})`,
      );
    }
  }
  // A study that reads as completed: every value's run must be a completed run of it.
  for (const st of studies.filter((x) => x.state === 'completed'))
    for (const v of st.values)
      if (!v.runDir || !runs.some((r) => r.dir === v.runDir && r.status.state === 'completed'))
        lookingComplete.push(
          `study ${st.record.studyId} reads as completed without a completed run of value ${v.label}`,
        );
  return { lookingComplete, damaged, temps: temps.map((t) => path.relative(ws, t)), runs, studies };
}

/** The run folders of a study (temporary ones left out, as readers do). */
function studyRunDirs(studyDir: string): string[] {
  const dir = path.join(studyDir, STUDY_RUNS);
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => !isTempName(n))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}
