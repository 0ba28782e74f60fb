/**
 * Disk faults, data-driven: every write point of the run store and the caches (writePoints.ts)
 * × every fault (a full disk at that write, on a small tmpfs; the space freed right after it;
 * kill -9 in the middle of it; the file system turned read-only before it), each in its own
 * tmpfs workspace with the built `aft` CLI (`npm run build` first; root, to mount). After each
 * fault:
 * - nothing reads as complete that is not (`aft runs`/readRunStatus, summary, checkpoints, ρ,
 *   the feature cache's meta.json over its features, the teacher's metadata over its weights),
 *   and no file under a final name is cut short;
 * - the error is reported once, as the first error, with the path and "disk full: N bytes
 *   needed" (or read-only), in the --json events and in status.json when the disk lets it;
 * - the next run, once space is back (or the disk writable), completes without a hand and
 *   leaves no temporary file.
 * Then damaged caches from elsewhere (cut short, a flipped byte, invalid JSON) are rebuilt, the
 * CLI's text output and the sidecar's JSON-RPC answers say the error once, and the figures
 * are printed: faults injected, runs/caches left looking complete, silent failures, recoveries.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LogEvent, RunEvent, StatusEvent } from '../../core/common/protocol/events';
import { readRunStatus, runInfos } from '../../core/node/runs/store';
import type { FaultAction } from '../../core/node/util/faults';
import { SidecarClient } from '../../extension/src/sidecar/client';
import { rejectsWith, waitFor } from '../helpers/sidecarRpc';
import {
  aft,
  audit,
  canMount,
  makeWorkspace,
  mountTmpfs,
  remount,
  TMPFS_MB,
  unmount,
  userCache,
  type AftResult,
  type FaultSpec,
  type WorkspaceKind,
} from './harness';
import { FAULTS, WRITE_POINTS, type WritePoint } from './writePoints';

const root = path.join(__dirname, '..', '..');
const built = fs.existsSync(path.join(root, 'dist', 'sidecar', 'cli.js'));
const mountable = canMount();
const skip = !built ? 'needs `npm run build`' : !mountable ? 'needs root on Linux (mounts tmpfs)' : false;

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-faults-'));
const mounts: string[] = [];
let cells = 0;

const figures = { injected: 0, lookingComplete: 0, silent: 0, recoveries: 0, problems: [] as string[] };

after(() => {
  for (const m of mounts) unmount(m);
  fs.rmSync(base, { recursive: true, force: true });
  if (skip) return;
  const line = (k: string, v: number | string): string => `  ${k.padEnd(34)} ${v}`;
  console.log(
    [
      'disk fault suite:',
      line('faults injected', figures.injected),
      line('runs/caches left looking complete', `${figures.lookingComplete} (goal 0)`),
      line('silent failures', `${figures.silent} (goal 0)`),
      line('recoveries without a hand', `${figures.recoveries} of ${figures.injected}`),
      ...figures.problems.map((p) => `  ! ${p}`),
    ].join('\n'),
  );
});

/** A fresh tmpfs workspace of a kind. */
function tmpfsWorkspace(kind: WorkspaceKind): string {
  const ws = path.join(base, `ws${cells++}`);
  mountTmpfs(ws, TMPFS_MB[kind]);
  mounts.push(ws);
  makeWorkspace(kind, ws);
  return ws;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const errors = (r: AftResult): LogEvent[] =>
  r.events.filter((e): e is LogEvent => e.type === 'log' && e.level === 'error');
const lastStatus = (r: AftResult): StatusEvent | undefined =>
  r.events.filter((e): e is StatusEvent => e.type === 'status').at(-1);
/** The last status, leaving out a study's values that completed (or started) before the fault. */
const faultedStatus = (r: AftResult): StatusEvent | undefined =>
  r.events
    .filter((e): e is StatusEvent => e.type === 'status')
    .filter((e, i, all) => !e.study || (e.state !== 'completed' && all.slice(i + 1).every((x) => x.runId !== e.runId)))
    .at(-1);

/** What a fault run did wrong, by the rules in this file's header ([] when nothing). */
function judgeFault(
  row: WritePoint,
  fault: FaultAction,
  ws: string,
  r: AftResult,
): { problems: string[]; silent: boolean; lookingComplete: number } {
  const problems: string[] = [];
  let silent = false;
  const a = audit(ws);
  for (const x of a.lookingComplete) problems.push(`looks complete: ${x}`);
  for (const x of a.damaged) problems.push(`not whole under its final name: ${x}`);
  for (const run of a.runs)
    if (run.status.state === 'running')
      problems.push(`run ${run.status.runId} still reads as running after its process ended`);
  const completed = r.code === 0 && lastStatus(r)?.state === 'completed';
  if (fault === 'kill') {
    if (r.signal !== 'SIGKILL')
      problems.push(`expected the kill at this write; exit ${r.code} ${r.signal ?? ''}\n${r.stderr.slice(-2000)}`);
  } else if (row.survives?.includes(fault)) {
    if (!completed)
      problems.push(
        `expected the run to complete despite the fault; exit ${r.code}, events: ${JSON.stringify(errors(r))}\n${r.stderr.slice(-2000)}`,
      );
    else if (a.runs[0]?.status.state !== 'completed')
      problems.push(`the run completed but reads as ${a.runs[0]?.status.state}`);
  } else {
    if (r.code === 0) {
      silent = true;
      problems.push('exit 0 although the run could not be written whole');
    }
    const reported = errors(r);
    const why = fault === 'ro' ? /the file system is read-only \(EROFS\)/ : /disk full: \d+ bytes needed/;
    const where = row.optional ? `${escape(ws)}/\\S+` : `${escape(ws)}\\S*?(?:${row.match.replace(/\$$/, '')})`;
    if (reported.length !== 1) {
      silent ||= reported.length === 0;
      problems.push(
        `expected the error once in the events, got ${reported.length}: ${JSON.stringify(reported)}\n${r.stderr.slice(-2000)}`,
      );
    } else {
      const msg = reported[0].message;
      if (!new RegExp(`cannot write (?:the feature cache file )?${where}:`).test(msg) || !why.test(msg)) {
        silent = true;
        problems.push(`the error does not name the file and why: ${msg}`);
      }
      const st = faultedStatus(r);
      if (st && (st.state !== 'failed' || st.message !== msg))
        problems.push(`the last status event is not failed with the error: ${JSON.stringify(st)}`);
      // On a full disk the final status still fits (space reserved at the start): it keeps the message.
      const run = a.runs.find((x) => x.dir === st?.runDir);
      if (run && fault !== 'ro' && st && run.status.message !== msg)
        problems.push(`status.json does not keep the error: ${JSON.stringify(run.status.message)}`);
    }
  }
  const lookingComplete = a.lookingComplete.length;
  return { problems, silent, lookingComplete };
}

/**
 * The next run after the user freed space (or made the disk writable): must complete and leave no
 * temporary file; the faulted run reads as failed (or completed, when it survived the fault).
 */
async function judgeRecovery(ws: string, faultedRunCompleted: boolean): Promise<string[]> {
  const r = await aft(ws);
  const problems: string[] = [];
  if (r.code !== 0 || lastStatus(r)?.state !== 'completed')
    problems.push(
      `the next run did not complete: exit ${r.code}, ${JSON.stringify(errors(r))}\n${r.stderr.slice(-2000)}`,
    );
  const a = audit(ws);
  for (const x of [...a.lookingComplete, ...a.damaged]) problems.push(`after the next run: ${x}`);
  if (a.temps.length) problems.push(`temporary files left after the next run: ${a.temps.join(', ')}`);
  if (a.studies.length) {
    // The study continued (or, when it could not be created, began again): every value done,
    // each by one completed run; any other run of it is the faulted one.
    const [study, ...others] = a.studies;
    if (others.length) problems.push(`${a.studies.length} studies where the next run should have continued one`);
    if (study.state !== 'completed') problems.push(`the study reads as ${study.state}: ${study.message ?? ''}`);
    const picked = new Set(study.values.map((v) => v.runDir));
    for (const run of a.runs.filter((r) => !picked.has(r.dir)))
      if (run.status.state !== (faultedRunCompleted ? 'completed' : 'failed'))
        problems.push(`the faulted run reads as ${run.status.state}`);
    return problems;
  }
  if (a.runs[0]?.status.state !== 'completed') problems.push(`the newest run reads as ${a.runs[0]?.status.state}`);
  for (const run of a.runs.slice(1))
    if (run.status.state !== (faultedRunCompleted ? 'completed' : 'failed'))
      problems.push(`the faulted run reads as ${run.status.state}`);
  return problems;
}

// Two cells at a time: each is its own tmpfs and its own processes.
describe('disk faults at every write point', { skip, concurrency: 2 }, () => {
  for (const row of WRITE_POINTS) {
    for (const fault of FAULTS) {
      it(`${row.name} × ${fault}`, async () => {
        const ws = tmpfsWorkspace(row.workspace);
        const spec: FaultSpec = {
          match: row.match,
          nth: row.nth,
          action: fault,
          ballast: path.join(ws, '.ballast'),
          mount: ws,
        };
        figures.injected++;
        const r = await aft(ws, spec);
        const judged = judgeFault(row, fault, ws, r);
        if (judged.silent) figures.silent++;
        if (judged.lookingComplete) figures.lookingComplete++;
        // The user frees space, or makes the disk writable again.
        fs.rmSync(spec.ballast!, { force: true });
        if (fault === 'ro') remount(ws, 'rw');
        const recovery = await judgeRecovery(ws, fault !== 'kill' && Boolean(row.survives?.includes(fault)));
        if (!recovery.length) figures.recoveries++;
        const problems = [...judged.problems, ...recovery.map((p) => `recovery: ${p}`)];
        if (problems.length) figures.problems.push(`${row.name} × ${fault}: ${problems[0].split('\n')[0]}`);
        assert.deepEqual(problems, []);
      });
    }
  }
});

/** Damage from elsewhere (older versions, other tools, bit rot): detected, said, rebuilt; never loaded, never fatal. */
interface Damage {
  name: string;
  workspace: 'cache' | 'teacher';
  /** How the base workspace is prepared: a complete run, or shard 0 of 2 (chunks, no entry). */
  base: 'run' | 'shard';
  damage: (ws: string) => void;
  /** What the next run must say (a log line). */
  says: RegExp;
}

const find = (dir: string, pred: (f: string) => boolean): string => {
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
  const f = walk(dir).find(pred);
  assert.ok(f, `no file to damage in ${dir}`);
  return f;
};
const cutShort = (f: string, keep = 0.8): void => fs.truncateSync(f, Math.floor(fs.statSync(f).size * keep));
const flipLastByte = (f: string): void => {
  const b = fs.readFileSync(f);
  b[b.length - 1] ^= 0x40;
  fs.writeFileSync(f, b);
};
const features = (ws: string): string => path.join(ws, '.aft', 'cache', 'features');
const teachers = (ws: string): string => path.join(userCache(ws), 'teachers');

// prettier-ignore
const DAMAGES: Damage[] = [
  { name: 'a chunk cut short under its final name',     workspace: 'cache',   base: 'shard', damage: (ws) => cutShort(find(features(ws), (f) => f.endsWith('/0-512.safetensors'))), says: /chunk .*0-512\.safetensors is damaged/ },
  { name: 'a chunk with one changed byte',              workspace: 'cache',   base: 'shard', damage: (ws) => flipLastByte(find(features(ws), (f) => f.endsWith('/0-512.safetensors'))), says: /chunk .*0-512\.safetensors is damaged \(its rows do not match the sha256/ },
  { name: 'plan.json not JSON',                         workspace: 'cache',   base: 'shard', damage: (ws) => fs.writeFileSync(find(features(ws), (f) => f.endsWith('/plan.json')), '{"total": 12'), says: /plan .* is damaged; writing it again/ },
  { name: 'features.safetensors cut short',             workspace: 'cache',   base: 'run',   damage: (ws) => cutShort(find(features(ws), (f) => f.endsWith('/features.safetensors'))), says: /feature cache .* is damaged \(features\.safetensors has \d+ bytes, meta\.json says \d+\)/ },
  { name: 'features.safetensors with one changed byte', workspace: 'cache',   base: 'run',   damage: (ws) => flipLastByte(find(features(ws), (f) => f.endsWith('/features.safetensors'))), says: /does not match the sha256 in meta\.json/ },
  { name: 'meta.json not JSON',                         workspace: 'cache',   base: 'run',   damage: (ws) => fs.writeFileSync(find(features(ws), (f) => f.endsWith('/meta.json')), '{"format": "aft-fea'), says: /meta\.json is not valid JSON/ },
  { name: 'temporary files of a dead process',          workspace: 'cache',   base: 'shard', damage: (ws) => {
    // pids above Linux's largest pid_max (2^22): never a live process
    const entry = path.dirname(find(features(ws), (f) => f.endsWith('/plan.json')));
    fs.writeFileSync(path.join(entry, 'features.safetensors.tmp-4200000-abc'), 'half');
    const staging = path.join(ws, '.aft', 'runs', 'x-20260101-000000-abcd.tmp-4200001-xyz');
    fs.mkdirSync(staging, { recursive: true });
    fs.writeFileSync(path.join(staging, 'status.json'), '{}');
  }, says: /./ },
  { name: 'the teacher cut short beside its metadata',  workspace: 'teacher', base: 'run',   damage: (ws) => cutShort(find(teachers(ws), (f) => f.endsWith('.safetensors')), 1.79 / 2.14), says: /cached mnist-teacher.* is damaged \(.*has \d+ bytes, its metadata says \d+\); building it again/ },
  { name: 'the teacher with one changed byte',          workspace: 'teacher', base: 'run',   damage: (ws) => flipLastByte(find(teachers(ws), (f) => f.endsWith('.safetensors'))), says: /does not match the sha256 in its metadata\); building it again/ },
  { name: "the teacher's metadata not JSON",           workspace: 'teacher', base: 'run',   damage: (ws) => fs.writeFileSync(find(teachers(ws), (f) => f.endsWith('.safetensors.json')), '{"version": '), says: /cannot be read .*; building it again/ },
  { name: "the teacher's ONNX export cut short",       workspace: 'teacher', base: 'run',   damage: (ws) => cutShort(find(teachers(ws), (f) => f.endsWith('.onnx')), 0.5), says: /./ },
];

describe('damaged caches are rebuilt, never loaded, never fatal', { skip, concurrency: 2 }, () => {
  const bases: Partial<Record<string, string>> = {};
  before(async () => {
    await Promise.all(
      (
        [
          ['cache', 'run'],
          ['cache', 'shard'],
          ['teacher', 'run'],
        ] as const
      ).map(async ([kind, how]) => {
        const ws = fs.mkdtempSync(path.join(base, `base-${kind}-${how}-`));
        makeWorkspace(kind, ws);
        const r =
          how === 'run' ? await aft(ws) : await aft(ws, undefined, ['extract', 'exp.aft.yaml', '--shard', '0/2']);
        assert.equal(r.code, 0, r.stderr);
        bases[`${kind}-${how}`] = ws;
      }),
    );
  });

  for (const d of DAMAGES) {
    it(d.name, async () => {
      const ws = fs.mkdtempSync(path.join(base, 'damaged-'));
      fs.cpSync(bases[`${d.workspace}-${d.base}`]!, ws, { recursive: true });
      d.damage(ws);
      figures.injected++;
      const r = await aft(ws);
      const logs = r.events.filter((e): e is LogEvent => e.type === 'log').map((e) => e.message);
      const problems: string[] = [];
      if (r.code !== 0 || lastStatus(r)?.state !== 'completed')
        problems.push(
          `the next run did not complete: exit ${r.code} ${JSON.stringify(errors(r))}\n${r.stderr.slice(-2000)}`,
        );
      if (!logs.some((l) => d.says.test(l))) problems.push(`no log line says ${d.says}:\n${logs.join('\n')}`);
      const a = audit(ws);
      for (const x of [...a.lookingComplete, ...a.damaged]) problems.push(x);
      if (a.temps.length) problems.push(`temporary files left: ${a.temps.join(', ')}`);
      if (problems.length) figures.problems.push(`${d.name}: ${problems[0].split('\n')[0]}`);
      else figures.recoveries++;
      assert.deepEqual(problems, []);
    });
  }
});

describe('the first error, said once, to each front end', { skip }, () => {
  const checkpoint = WRITE_POINTS.find((w) => w.name.startsWith('checkpoints/'))!;
  const create = WRITE_POINTS.find((w) => w.name === 'status.json (create)')!;

  it('aft run (text): one error line with the file and the bytes needed, exit 1', async () => {
    const ws = tmpfsWorkspace('store');
    const r = await aft(ws, { match: checkpoint.match, nth: 1, action: 'full', ballast: path.join(ws, '.ballast') }, [
      'run',
      'exp.aft.yaml',
    ]);
    fs.rmSync(path.join(ws, '.ballast'), { force: true });
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n').filter((l) => l.includes('disk full'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      new RegExp(
        `^error: cannot write ${escape(ws)}/\\.aft/runs/[^/]+/checkpoints/aft-seed-0\\.safetensors: disk full: \\d+ bytes needed, \\d+ free$`,
      ),
    );
    assert.match(r.stderr, /run failed: /);
    // `aft runs` and the Runs view's rows say it too.
    const runs = await aft(ws, undefined, ['runs']);
    assert.match(
      runs.stdout,
      /^failed\s+faults-store-\S+\s+\(cannot write .*aft-seed-0\.safetensors: disk full: \d+ bytes needed/m,
    );
    assert.match(runInfos(ws)[0].message ?? '', /disk full: \d+ bytes needed/);
  });

  it('aft run --json, the run folder itself cannot be written: one error event, exit 1, no run left behind', async () => {
    const ws = tmpfsWorkspace('store');
    const r = await aft(ws, { match: create.match, nth: 1, action: 'full', ballast: path.join(ws, '.ballast') });
    fs.rmSync(path.join(ws, '.ballast'), { force: true });
    assert.equal(r.code, 1);
    assert.equal(errors(r).length, 1, r.stdout);
    assert.match(errors(r)[0].message, /cannot write .*status\.json: disk full: \d+ bytes needed/);
    assert.deepEqual(audit(ws).runs, []);
  });

  it('aft extract --json: one error event and the error on stderr, with the file', async () => {
    const ws = tmpfsWorkspace('cache');
    const chunk = WRITE_POINTS.find((w) => w.name.startsWith('chunks/'))!;
    const r = await aft(ws, { match: chunk.match, nth: 1, action: 'full', ballast: path.join(ws, '.ballast') }, [
      'extract',
      'exp.aft.yaml',
      '--json',
    ]);
    fs.rmSync(path.join(ws, '.ballast'), { force: true });
    assert.equal(r.code, 1);
    assert.equal(errors(r).length, 1, r.stdout);
    assert.match(
      errors(r)[0].message,
      /cannot write the feature cache file .*chunks\/0-512\.safetensors: disk full: \d+ bytes needed/,
    );
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('error: ')).length, 1, r.stderr);
  });

  it('the sidecar (JSON-RPC): a run that cannot start is a run_failed error; a run that fails says so once in its events and in the store', async () => {
    const ws = tmpfsWorkspace('store');
    const exp = path.join(ws, 'exp.aft.yaml');
    const sidecar = (fault: FaultSpec): SidecarClient =>
      new SidecarClient({
        serverScript: path.join(root, 'dist', 'sidecar', 'server.js'),
        env: { AFT_CACHE_DIR: userCache(ws), AFT_TEST_FAULT: JSON.stringify(fault) },
        init: { maxConcurrentRuns: 1 },
      });
    const first = sidecar({ match: create.match, nth: 1, action: 'full', ballast: path.join(ws, '.ballast') });
    try {
      await first.start();
      await rejectsWith(
        first.run({ file: exp, workspaceDir: ws }),
        'run_failed',
        /cannot write .*status\.json: disk full: \d+ bytes needed/,
      );
    } finally {
      await first.stop(2000);
      fs.rmSync(path.join(ws, '.ballast'), { force: true });
    }
    const second = sidecar({ match: checkpoint.match, nth: 1, action: 'free', ballast: path.join(ws, '.ballast') });
    try {
      await second.start();
      const events: RunEvent[] = [];
      second.onRunEvent((e) => events.push(e));
      const started = await second.run({ file: exp, workspaceDir: ws });
      const end = await waitFor(
        second,
        (e): e is StatusEvent => e.type === 'status' && e.runId === started.runId && e.state !== 'running',
      );
      assert.equal(end.state, 'failed');
      assert.match(
        end.message ?? '',
        /cannot write .*checkpoints\/aft-seed-0\.safetensors: disk full: \d+ bytes needed/,
      );
      await new Promise((r) => setTimeout(r, 200));
      const errs = events.filter((e) => e.type === 'log' && e.level === 'error');
      assert.equal(errs.length, 1, JSON.stringify(errs));
      assert.equal(readRunStatus(started.runDir).message, end.message);
      const row = (await second.listRuns(ws)).find((x) => x.runId === started.runId);
      assert.equal(row?.state, 'failed');
      assert.equal(row?.message, end.message);
    } finally {
      await second.stop(2000);
    }
  });
});
