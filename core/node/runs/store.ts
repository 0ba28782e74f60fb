/**
 * The run store: `.aft/runs/<id>/` under the workspace. It is the contract for everything that
 * reads results later (Runs view, dashboards, `aft compare`, `aft report`); docs/run-store.md
 * describes it. Writes are atomic (status, summary, ρ, checkpoints) or append-only (metrics,
 * log), and a run says it is complete only after its summary is in place.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MetricsEvent, RunState, RunSummary, Segment } from '../../common/protocol/events';
import type { RunInfo } from '../../common/protocol/rpc';
import type { RunStatus } from '../../common/runs/records';
import { encodeSafetensors, type StTensor } from '../io/safetensors';
import { CURVE_CACHE_FILE, CurveCacheBuilder } from '../../common/runs/curves';
import { CURVE_VIEW_FILE, encodeCurveViews } from '../../common/runs/curveViews';
import { AftError, badInput, type SourceLocation } from '../../common/util/errors';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsx';
import { checkStatus, checkSummary } from '../../common/runs/records';
import { readUserJson } from '../io/userFile';

export const RUNS_DIR = path.join('.aft', 'runs');

function timestampId(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** How often a running run refreshes its curve cache (metrics.cols). */
const CURVE_CACHE_EVERY_MS = 60_000;

export class RunStore {
  private status: RunStatus;
  private lastBeat = 0;
  /** The curves of metrics.jsonl as written, for metrics.cols (docs/run-store.md). */
  private readonly curves = new CurveCacheBuilder();
  private cachedLines = 0;
  private lastCacheWrite = Date.now();
  /** Set when an append to metrics.jsonl failed part-way: no cache can then say what it covers. */
  private curvesBroken = false;

  private constructor(
    readonly dir: string,
    readonly runId: string,
    experiment: string,
  ) {
    const now = new Date().toISOString();
    this.status = { format: 'aft-run-status', version: 1, runId, experiment, state: 'running', pid: process.pid, host: os.hostname(), started: now, updated: now };
  }

  /** Creates `<workspace>/.aft/runs/<name>-<time>-<rand>/` and marks it running. */
  static create(workspaceDir: string, experimentName: string, resolvedExperiment: unknown, sourceText: string): RunStore {
    const runId = `${experimentName}-${timestampId(new Date())}-${Math.random().toString(36).slice(2, 6)}`;
    const dir = path.join(workspaceDir, RUNS_DIR, runId);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      // A workspace that is a file, unwritable, or a path past the system's limits is the user's
      // to change; anything else (a full disk) is the run failing.
      const code = (e as NodeJS.ErrnoException).code ?? '';
      const user = ['ENAMETOOLONG', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EEXIST'].includes(code);
      throw new AftError(user ? 'bad_input' : 'run_failed', `cannot create the run folder ${dir}: ${(e as Error).message}`, { file: workspaceDir, field: 'workspace' });
    }
    const store = new RunStore(dir, runId, experimentName);
    writeJsonAtomic(path.join(dir, 'status.json'), store.status);
    writeFileAtomic(path.join(dir, 'experiment.source.yaml'), sourceText);
    writeJsonAtomic(path.join(dir, 'experiment.json'), resolvedExperiment);
    return store;
  }

  get state(): RunState {
    return this.status.state;
  }

  /** Whether any training has been recorded (a metrics row). */
  get trained(): boolean {
    return this.curves.lines > 0 || this.curvesBroken;
  }

  /**
   * Removes the run folder: a run stopped by bad input before anything was trained keeps
   * nothing (the input is fixed and the run started again).
   */
  discard(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Records progress in status.json, at most once a second (readers poll it). */
  heartbeat(progress: RunStatus['progress'], force = false): void {
    const now = Date.now();
    if (!force && now - this.lastBeat < 1000) return;
    this.lastBeat = now;
    this.status = { ...this.status, updated: new Date(now).toISOString(), ...(progress ? { progress } : {}) };
    writeJsonAtomic(path.join(this.dir, 'status.json'), this.status);
    if (now - this.lastCacheWrite >= CURVE_CACHE_EVERY_MS) this.writeCurveCache();
  }

  /** Final state; `completed` only after the summary has been written. */
  finish(state: Exclude<RunState, 'running'>, message?: string): void {
    const now = new Date().toISOString();
    this.status = { ...this.status, state, updated: now, finished: now, ...(message !== undefined ? { message } : {}) };
    this.writeCurveCache();
    this.writeCurveViews();
    writeJsonAtomic(path.join(this.dir, 'status.json'), this.status);
  }

  appendMetrics(m: MetricsEvent): void {
    const { type: _type, runId: _runId, ...row } = m;
    const line = JSON.stringify(row) + '\n';
    try {
      fs.appendFileSync(path.join(this.dir, 'metrics.jsonl'), line);
    } catch (e) {
      this.curvesBroken = true;
      throw e;
    }
    this.curves.addLine(line);
  }

  /**
   * Writes metrics.cols, the binary columns of metrics.jsonl so far (readers load it instead of
   * parsing the JSON).
   */
  writeCurveCache(): void {
    this.lastCacheWrite = Date.now();
    const lines = this.curves.lines;
    if (this.curvesBroken || lines === this.cachedLines) return;
    if (this.writeDerived(CURVE_CACHE_FILE, () => this.curves.encode(), 'dashboards read metrics.jsonl instead')) this.cachedLines = lines;
  }

  /** Writes metrics.view.json, every curve downsampled as a dashboard shows it (a finished run's dashboard opens from it). */
  private writeCurveViews(): void {
    if (this.curvesBroken || this.curves.lines === 0) return;
    this.writeDerived(CURVE_VIEW_FILE, () => encodeCurveViews(this.curves.curves, this.curves.cover()), 'dashboards downsample metrics instead');
  }

  /**
   * Writes a file derived from metrics.jsonl, atomically. A failure (a full disk) costs readers
   * only speed (`instead` says what they do), so it is logged, not thrown; returns whether it was written.
   */
  private writeDerived(name: string, encode: () => string | Uint8Array, instead: string): boolean {
    try {
      writeFileAtomic(path.join(this.dir, name), encode());
      return true;
    } catch (e) {
      try {
        this.appendLog(`could not write ${name} (${instead}): ${(e as Error).message}`);
      } catch {
        // the disk is full: the log line is lost too
      }
      return false;
    }
  }

  appendLog(line: string): void {
    fs.appendFileSync(path.join(this.dir, 'run.log'), `${new Date().toISOString()} ${line}\n`);
  }

  /** ρ of a method and seed; `step` while training (live dashboards), omitted for the final one. */
  writeRho(method: string, seed: number, segments: Segment[], values: ArrayLike<number>, step?: number): void {
    writeJsonAtomic(path.join(this.dir, 'rho', method, `seed-${seed}.json`), { method, seed, ...(step !== undefined ? { step } : {}), segments, values: Array.from(values) });
  }

  writeCheckpoint(method: string, seed: number, weights: Record<string, StTensor>, meta: Record<string, string>): string {
    const file = path.join(this.dir, 'checkpoints', `${method}-seed-${seed}.safetensors`);
    writeFileAtomic(file, encodeSafetensors(weights, meta));
    return file;
  }

  writeSummary(summary: RunSummary): void {
    writeJsonAtomic(path.join(this.dir, 'summary.json'), summary);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Run records are small; a bigger one is not the store's. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * Reads a run's status as a reader should see it: a run marked `running` whose process on this
 * host is gone (killed, crashed) is reported as failed, never as running or complete, and so is
 * a run marked `completed` whose summary.json is missing or damaged. A missing status.json
 * throws the file system's ENOENT (the folder is not a run); a damaged one, a bad-input error
 * naming it.
 */
export function readRunStatus(dir: string): RunStatus {
  const file = path.join(dir, 'status.json');
  fs.statSync(file);
  const checked = checkStatus(readUserJson(file, { what: 'status.json', maxBytes: MAX_RECORD_BYTES }));
  if (!checked.ok) throw badInput(`status.json is damaged: ${checked.error}`, { file });
  const s = checked.value;
  if (s.state === 'running' && s.host === os.hostname() && !pidAlive(s.pid)) {
    return { ...s, state: 'failed', message: `the process (pid ${s.pid}) running it ended without finishing (killed or crashed)` };
  }
  if (s.state === 'completed') {
    let summary: RunSummary | undefined;
    try {
      summary = readSummary(dir);
    } catch (e) {
      return { ...s, state: 'failed', message: `marked completed but ${e instanceof AftError ? e.message : (e as Error).message}` };
    }
    if (!summary) return { ...s, state: 'failed', message: 'marked completed but summary.json is missing' };
  }
  return s;
}

/** A run's summary.json, checked; undefined when there is none, a bad-input error naming it when it is damaged. */
export function readSummary(dir: string): RunSummary | undefined {
  const file = path.join(dir, 'summary.json');
  if (!fs.existsSync(file)) return undefined;
  const checked = checkSummary(readUserJson(file, { what: 'summary.json', maxBytes: MAX_RECORD_BYTES }));
  if (!checked.ok) throw badInput(`summary.json is damaged: ${checked.error}`, { file });
  return checked.value;
}

/**
 * Runs in a workspace, newest first. A folder without status.json is not a run (or was never
 * started) and is left out; a run whose status.json is damaged is listed as failed, saying why.
 */
export function listRuns(workspaceDir: string): { dir: string; status: RunStatus }[] {
  const root = path.join(workspaceDir, RUNS_DIR);
  if (!fs.existsSync(root)) return [];
  const out: { dir: string; status: RunStatus }[] = [];
  for (const name of fs.readdirSync(root)) {
    const dir = path.join(root, name);
    try {
      out.push({ dir, status: readRunStatus(dir) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      out.push({ dir, status: damagedStatus(dir, name, e) });
    }
  }
  return out.sort((a, b) => b.status.started.localeCompare(a.status.started));
}

/** What a run whose status.json cannot be read is listed as. */
function damagedStatus(dir: string, name: string, e: unknown): RunStatus {
  let when = new Date(0).toISOString();
  try {
    when = fs.statSync(dir).mtime.toISOString();
  } catch {
    // gone meanwhile: listed with the epoch
  }
  return {
    format: 'aft-run-status',
    version: 1,
    runId: name,
    experiment: name.replace(/-\d{8}-\d{6}-\w+$/, ''),
    state: 'failed',
    pid: 0,
    host: '',
    started: when,
    updated: when,
    message: e instanceof AftError ? e.message : `status.json cannot be read (${(e as Error).message})`,
  };
}

/**
 * The Runs view's rows: every run in a workspace with its summary once completed, newest first.
 * A summary that cannot be read leaves its run listed, saying why.
 */
export function runInfos(workspaceDir: string): RunInfo[] {
  return listRuns(workspaceDir).map(({ dir, status }) => {
    let summary: RunSummary | undefined;
    let problem: string | undefined;
    try {
      summary = status.state === 'completed' ? readSummary(dir) : undefined;
    } catch (e) {
      problem = `its summary.json cannot be read (${(e as Error).message})`;
    }
    const message = [status.message, problem].filter(Boolean).join('; ');
    return {
      runId: status.runId,
      runDir: dir,
      experiment: status.experiment,
      state: status.state,
      started: status.started,
      ...(message ? { message } : {}),
      ...(status.progress ? { progress: status.progress } : {}),
      ...(summary ? { summary } : {}),
    };
  });
}

/** A run folder from a path or a run id (looked up in `<workspace>/.aft/runs/`). */
export function resolveRunDir(run: string, workspaceDir: string, where?: SourceLocation): string {
  const candidates = [path.resolve(run), path.join(workspaceDir, RUNS_DIR, run)];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'status.json')));
  if (!dir) throw badInput(`no run '${run}': neither ${candidates.join(' nor ')} holds a status.json (aft runs lists the runs)`, where);
  return dir;
}
