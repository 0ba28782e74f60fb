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
import { newestFirst } from '../../common/runs/runListing';
import type { RunStatus } from '../../common/runs/records';
import { encodeSafetensors, type StTensor } from '../io/safetensors';
import { CURVE_CACHE_FILE, CurveCacheBuilder } from '../../common/runs/curves';
import { CURVE_VIEW_FILE, encodeCurveViews } from '../../common/runs/curveViews';
import { AftError, badInput, type SourceLocation } from '../../common/util/errors';
import { checkStatus, checkSummary } from '../../common/runs/records';
import { readUserJson } from '../io/userFile';
import {
  appendFileAll,
  isTempName,
  removeQuietly,
  removeStaleTemps,
  Reserve,
  tempName,
  writeFailure,
  writeFileAtomic,
  writeJsonAtomic,
} from '../util/fsx';
import { processStart } from '../util/process';
import { deadReason } from './liveness';
import { CLAIMS_DIR, JOBS_DIR, shardedStatus, WORKERS_DIR } from './shardRecords';
import { StatCache } from './statCache';

export const RUNS_DIR = path.join('.aft', 'runs');

export function timestampId(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** How often a running run refreshes its curve cache (metrics.cols). */
const CURVE_CACHE_EVERY_MS = 60_000;

/** How often a running run refreshes `updated` in status.json even when nothing progresses. */
export const HEARTBEAT_SECONDS = 10;
/** A `running` status not refreshed for this long reads as failed (liveness.ts). */
export { STALE_FLOOR_SECONDS } from './liveness';
/** Bytes kept aside for the final status.json, so that a run on a disk that filled up can still say how it ended. */
const STATUS_RESERVE_BYTES = 16_384;
/** The longest message kept in status.json (the full one is in run.log and the run's events). */
const MAX_STATUS_MESSAGE = 8_000;

/** Where a run folder goes: by default `<workspace>/.aft/runs/<name>-<time>-<rand>`; a study's runs go in its folder. */
export interface RunPlace {
  /** The folder that receives the run folder. */
  root?: string;
  /** What the run id starts with instead of the experiment's name. */
  idPrefix?: string;
}

/** The status.json of a run that this process starts now. */
export function newRunStatus(runId: string, experiment: string): RunStatus {
  const now = new Date().toISOString();
  const start = processStart(process.pid);
  return {
    format: 'aft-run-status',
    version: 1,
    runId,
    experiment,
    state: 'running',
    pid: process.pid,
    ...(start !== undefined ? { processStart: start } : {}),
    host: os.hostname(),
    started: now,
    updated: now,
    heartbeatSeconds: HEARTBEAT_SECONDS,
  };
}

/** What a sharded run's status keeps from its record: that it is sharded. */
function pick(s: RunStatus): Partial<RunStatus> {
  return s.sharded ? { sharded: s.sharded } : {};
}

export class RunStore {
  private status: RunStatus;
  private lastBeat = 0;
  /** The curves of metrics.jsonl as written, for metrics.cols (docs/run-store.md). */
  private readonly curves = new CurveCacheBuilder();
  private cachedLines = 0;
  private lastCacheWrite = Date.now();
  /** Set when an append to metrics.jsonl failed part-way: no cache can then say what it covers. */
  private curvesBroken = false;
  /** The first write that failed in the background (the heartbeat timer); thrown at the next write. */
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly dir: string,
    readonly runId: string,
    experiment: string,
    private readonly reserve: Reserve,
    status: RunStatus = newRunStatus(runId, experiment),
  ) {
    this.status = status;
  }

  /**
   * The store of a sharded run folder for the one process that holds its summary claim
   * (docs/sharding.md): it writes metrics.jsonl (the jobs' rows merged), the curve files, the
   * summary and the final status.json, as a single-process run does at its end.
   */
  static openSharded(dir: string, status: RunStatus): RunStore {
    removeStaleRunTemps(path.dirname(dir));
    const store = new RunStore(
      dir,
      status.runId,
      status.experiment,
      Reserve.create(path.join(dir, 'status.json'), STATUS_RESERVE_BYTES),
      { ...newRunStatus(status.runId, status.experiment), started: status.started, ...pick(status) },
    );
    store.timer = setInterval(() => store.beat(), HEARTBEAT_SECONDS * 1000);
    store.timer.unref();
    return store;
  }

  /**
   * Creates `<workspace>/.aft/runs/<name>-<time>-<rand>/` and marks it running. The folder is
   * filled under a temporary name and renamed into place, so a run folder always holds a
   * status.json; a process killed before that leaves only a temporary folder, removed (with
   * other dead processes' temporary files) by the next run that starts.
   */
  static create(
    workspaceDir: string,
    experimentName: string,
    resolvedExperiment: unknown,
    sourceText: string,
    place: RunPlace = {},
  ): RunStore {
    const runId = `${place.idPrefix ?? experimentName}-${timestampId(new Date())}-${Math.random().toString(36).slice(2, 6)}`;
    const root = place.root ?? path.join(workspaceDir, RUNS_DIR);
    const dir = path.join(root, runId);
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (e) {
      throw runFolderError(root, workspaceDir, e);
    }
    removeStaleRunTemps(root);
    const staging = tempName(dir);
    try {
      fs.mkdirSync(staging);
      const store = new RunStore(
        dir,
        runId,
        experimentName,
        Reserve.create(path.join(staging, 'status.json'), STATUS_RESERVE_BYTES),
      );
      writeJsonAtomic(path.join(staging, 'status.json'), store.status);
      writeFileAtomic(path.join(staging, 'experiment.source.yaml'), sourceText);
      writeJsonAtomic(path.join(staging, 'experiment.json'), resolvedExperiment);
      fs.renameSync(staging, dir);
      store.timer = setInterval(() => store.beat(), HEARTBEAT_SECONDS * 1000);
      store.timer.unref();
      return store;
    } catch (e) {
      removeQuietly(staging);
      throw runFolderError(staging, workspaceDir, e);
    }
  }

  /** Stops the heartbeat without a final status (a sharded run's summary step that failed: readers derive its state). */
  close(): void {
    clearInterval(this.timer);
  }

  get state(): RunState {
    return this.status.state;
  }

  /**
   * Runs a write of the run's record. The first write that fails is kept, and every later write
   * throws it, so the run fails with that first error even if a caller swallowed it (or a
   * heartbeat of the timer met it) and the disk has room again by then.
   */
  private guard<T>(write: () => T): T {
    if (this.failure) throw this.failure;
    try {
      return write();
    } catch (e) {
      this.failure = e as Error;
      throw e;
    }
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
    clearInterval(this.timer);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private writeStatus(): void {
    writeJsonAtomic(path.join(this.dir, 'status.json'), this.status);
  }

  /** The timer's heartbeat: `updated` refreshed while the run lives, even with no progress to report. */
  private beat(): void {
    // Progress heartbeats (at most one a second) already keep `updated` fresh while work moves.
    if (this.failure || this.status.state !== 'running' || Date.now() - this.lastBeat < (HEARTBEAT_SECONDS * 1000) / 2)
      return;
    try {
      this.lastBeat = Date.now();
      this.status = { ...this.status, updated: new Date(this.lastBeat).toISOString() };
      this.writeStatus();
    } catch (e) {
      this.failure = e as Error;
    }
  }

  /** Records progress in status.json, at most once a second (readers poll it). */
  heartbeat(progress: RunStatus['progress'], force = false): void {
    this.guard(() => {
      const now = Date.now();
      if (!force && now - this.lastBeat < 1000) return;
      this.lastBeat = now;
      this.status = { ...this.status, updated: new Date(now).toISOString(), ...(progress ? { progress } : {}) };
      this.writeStatus();
      if (now - this.lastCacheWrite >= CURVE_CACHE_EVERY_MS) this.writeCurveCache();
    });
  }

  /**
   * Final state; `completed` only after the summary has been written. The status goes through
   * the space reserved at the start, so it is written even on a disk that has filled up since;
   * throws (a `WriteError`) only when even that fails (a read-only disk).
   */
  finish(state: Exclude<RunState, 'running'>, message?: string): void {
    clearInterval(this.timer);
    const now = new Date().toISOString();
    const msg =
      message !== undefined && message.length > MAX_STATUS_MESSAGE
        ? `${message.slice(0, MAX_STATUS_MESSAGE)}… (the whole message is in run.log)`
        : message;
    this.status = {
      ...this.status,
      state,
      updated: now,
      finished: now,
      ...(msg !== undefined ? { message: msg } : {}),
    };
    this.writeCurveCache();
    this.writeCurveViews();
    this.reserve.commit(path.join(this.dir, 'status.json'), JSON.stringify(this.status, null, 2) + '\n');
  }

  appendMetrics(m: MetricsEvent): void {
    const { type: _type, runId: _runId, ...row } = m;
    const line = JSON.stringify(row) + '\n';
    this.guard(() => {
      try {
        appendFileAll(path.join(this.dir, 'metrics.jsonl'), line);
      } catch (e) {
        this.curvesBroken = true;
        throw e;
      }
    });
    this.curves.addLine(line);
  }

  /**
   * Writes metrics.jsonl whole from `lines` (whole JSON lines, each ending in a newline): a sharded
   * run's jobs' rows merged in plan order by the process that writes its summary. Atomic, so a
   * finisher killed part-way leaves the next one nothing to undo.
   */
  writeMetricsWhole(lines: string[]): void {
    this.guard(() => writeFileAtomic(path.join(this.dir, 'metrics.jsonl'), lines.join('')));
    for (const line of lines) this.curves.addLine(line);
  }

  /**
   * Writes metrics.cols, the binary columns of metrics.jsonl so far (readers load it instead of
   * parsing the JSON).
   */
  writeCurveCache(): void {
    this.lastCacheWrite = Date.now();
    const lines = this.curves.lines;
    if (this.curvesBroken || lines === this.cachedLines) return;
    if (this.writeDerived(CURVE_CACHE_FILE, () => this.curves.encode(), 'dashboards read metrics.jsonl instead'))
      this.cachedLines = lines;
  }

  /** Writes metrics.view.json, every curve downsampled as a dashboard shows it (a finished run's dashboard opens from it). */
  private writeCurveViews(): void {
    if (this.curvesBroken || this.curves.lines === 0) return;
    this.writeDerived(
      CURVE_VIEW_FILE,
      () => encodeCurveViews(this.curves.curves, this.curves.cover()),
      'dashboards downsample metrics instead',
    );
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
      this.appendLogQuietly(`could not write ${name} (${instead}): ${(e as Error).message}`);
      return false;
    }
  }

  appendLog(line: string): void {
    this.guard(() => appendFileAll(path.join(this.dir, 'run.log'), `${new Date().toISOString()} ${line}\n`));
  }

  /**
   * A line in run.log about a failure being reported: written if the disk lets it, never
   * throwing, and not kept as the run's error (that is the failure it reports).
   */
  appendLogQuietly(line: string): void {
    try {
      appendFileAll(path.join(this.dir, 'run.log'), `${new Date().toISOString()} ${line}\n`);
    } catch {
      // the disk is full or read-only: the line is lost
    }
  }

  /** ρ of a method and seed; `step` while training (live dashboards), omitted for the final one. */
  writeRho(method: string, seed: number, segments: Segment[], values: ArrayLike<number>, step?: number): void {
    this.guard(() => writeRhoFile(this.dir, method, seed, segments, values, step));
  }

  writeCheckpoint(
    method: string,
    seed: number,
    weights: Record<string, StTensor>,
    meta: Record<string, string>,
  ): string {
    return this.guard(() => writeCheckpointFile(this.dir, method, seed, weights, meta));
  }

  /** A checkpoint that is a folder (a pretrained student in its hub layout), see `writeCheckpointDir`. */
  writeCheckpointFolder(method: string, seed: number, files: Record<string, string | Uint8Array>): string {
    return this.guard(() => writeCheckpointDir(this.dir, method, seed, files));
  }

  /** The summary; throws the run's first failed write instead if there was one (a run is complete only if all of it was written). */
  writeSummary(summary: RunSummary): void {
    this.guard(() => writeJsonAtomic(path.join(this.dir, 'summary.json'), summary));
  }
}

/**
 * What a process writes of a run besides its record: ρ files and checkpoints. Each names its
 * method and seed, so in a sharded run only the process training that job writes it.
 */
export type RunOutputs = Pick<RunStore, 'runId' | 'writeRho' | 'writeCheckpoint' | 'writeCheckpointFolder'>;

/** `rho/<method>/seed-<seed>.json` in run folder `dir`. */
export function writeRhoFile(
  dir: string,
  method: string,
  seed: number,
  segments: Segment[],
  values: ArrayLike<number>,
  step?: number,
): void {
  writeJsonAtomic(path.join(dir, 'rho', method, `seed-${seed}.json`), {
    method,
    seed,
    ...(step !== undefined ? { step } : {}),
    segments,
    values: Array.from(values),
  });
}

/** `checkpoints/<method>-seed-<seed>.safetensors` in run folder `dir`; returns the file. */
export function writeCheckpointFile(
  dir: string,
  method: string,
  seed: number,
  weights: Record<string, StTensor>,
  meta: Record<string, string>,
): string {
  const file = path.join(dir, 'checkpoints', `${method}-seed-${seed}.safetensors`);
  writeFileAtomic(file, encodeSafetensors(weights, meta));
  return file;
}

/**
 * A checkpoint that is a folder (a pretrained student in its hub layout:
 * `checkpoints/<method>-seed-<seed>/`), written whole into a temporary sibling and renamed into
 * place, so that the folder is complete whenever it exists.
 */
export function writeCheckpointDir(
  runDir: string,
  method: string,
  seed: number,
  files: Record<string, string | Uint8Array>,
): string {
  const dir = path.join(runDir, 'checkpoints', `${method}-seed-${seed}`);
  const tmp = tempName(dir);
  try {
    for (const [name, data] of Object.entries(files)) writeFileAtomic(path.join(tmp, name), data);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** Removes temporary files and staging folders of dead processes in the runs folder and in each run. */
export function removeStaleRunTemps(root: string): void {
  removeStaleTemps(root);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    if (isTempName(name)) continue;
    const dir = path.join(root, name);
    // A sharded run's jobs/, workers/ and claims/ too (docs/sharding.md).
    for (const sub of [
      dir,
      ...['checkpoints', JOBS_DIR, WORKERS_DIR, CLAIMS_DIR].map((d) => path.join(dir, d)),
      ...subdirs(path.join(dir, 'rho')),
    ])
      removeStaleTemps(sub);
  }
}

/**
 * Why a run folder could not be made: a workspace that is a file, unwritable, or a path past the
 * system's limits is the user's to change (bad input); anything else (a full disk) is the run
 * failing, said as every failed write is.
 */
export function runFolderError(where: string, workspaceDir: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (['ENAMETOOLONG', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EEXIST'].includes(code)) {
    return new AftError('bad_input', `cannot create the run folder ${where}: ${(e as Error).message}`, {
      file: workspaceDir,
      field: 'workspace',
    });
  }
  return writeFailure(where, e);
}

function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}

/** Run records are small; a bigger one is not the store's. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * status.json and summary.json as last checked, while unchanged: listings re-read only the runs
 * that changed (a finished run's records never do). The liveness of a `running` run is judged
 * again at every read, from the cached record.
 */
const statusCache = new StatCache<RunStatus>();
const summaryCache = new StatCache<RunSummary>();

/**
 * Reads a run's status as a reader should see it, never as running or complete when it is not:
 * - `running`, on this host, whose process is gone (killed, crashed) or whose pid now names another
 *   process (a reused pid: its start time differs): failed;
 * - `running` whose heartbeat (`updated`) is older than 3 heartbeats and at least
 *   STALE_FLOOR_SECONDS (a process on another host, or one that hangs): failed, "stopped answering";
 * - `completed` whose summary.json is missing or damaged: failed.
 * A missing status.json throws the file system's ENOENT (the folder is not a run); a damaged one,
 * a bad-input error naming it.
 */
/**
 * A run folder's stop channel: a process that does not own a run (a new window's sidecar, `aft
 * stop`) asks the one that trains it to stop by writing this file; the training process checks
 * for it every second and cancels the run as Ctrl-C would (docs/run-store.md).
 */
export const STOP_REQUEST_FILE = 'stop.request';

/** Asks the process training the run in `dir` to stop; false when the run is not running. */
export function requestStop(dir: string, by: string): boolean {
  if (readRunStatus(dir).state !== 'running') return false;
  writeJsonAtomic(path.join(dir, STOP_REQUEST_FILE), {
    by,
    pid: process.pid,
    host: os.hostname(),
    at: new Date().toISOString(),
  });
  return true;
}

/** Whether someone asked the run in `dir` to stop. */
export function stopRequested(dir: string): boolean {
  return fs.existsSync(path.join(dir, STOP_REQUEST_FILE));
}

export function readRunStatus(dir: string, now = Date.now()): RunStatus {
  return readRunRecords(dir, now).status;
}

/** `readRunStatus`, with the summary it checked when the run says it completed (read once for both). */
function readRunRecords(dir: string, now: number): { status: RunStatus; summary?: RunSummary } {
  const file = path.join(dir, 'status.json');
  const s = statusCache.get(file, fs.statSync(file), () => {
    const checked = checkStatus(readUserJson(file, { what: 'status.json', maxBytes: MAX_RECORD_BYTES }));
    if (!checked.ok) throw badInput(`status.json is damaged: ${checked.error}`, { file });
    return checked.value;
  });
  if (s.state === 'running') {
    // A sharded run is trained by several processes: its state is derived from their records.
    if (s.sharded) return { status: shardedStatus(dir, s, now) };
    const dead = deadReason(s, now);
    if (dead) return { status: { ...s, state: 'failed', message: dead } };
  }
  if (s.state === 'completed') {
    let summary: RunSummary | undefined;
    try {
      summary = readSummary(dir);
    } catch (e) {
      return {
        status: {
          ...s,
          state: 'failed',
          message: `marked completed but ${e instanceof AftError ? e.message : (e as Error).message}`,
        },
      };
    }
    if (!summary) return { status: { ...s, state: 'failed', message: 'marked completed but summary.json is missing' } };
    return { status: s, summary };
  }
  return { status: s };
}

/** A run's summary.json, checked; undefined when there is none, a bad-input error naming it when it is damaged. */
export function readSummary(dir: string): RunSummary | undefined {
  const file = path.join(dir, 'summary.json');
  return summaryCache.getIfExists(file, () => {
    const checked = checkSummary(readUserJson(file, { what: 'summary.json', maxBytes: MAX_RECORD_BYTES }));
    if (!checked.ok) throw badInput(`summary.json is damaged: ${checked.error}`, { file });
    return checked.value;
  });
}

/**
 * Runs in a workspace, newest first. A folder without status.json is not a run (or was never
 * started) and is left out; a run whose status.json is damaged is listed as failed, saying why.
 */
export function listRuns(workspaceDir: string): { dir: string; status: RunStatus }[] {
  return listRecords(workspaceDir).map(({ dir, status }) => ({ dir, status }));
}

/** `listRuns`, with each completed run's summary as its status was checked against it. */
function listRecords(workspaceDir: string): { dir: string; status: RunStatus; summary?: RunSummary }[] {
  const root = path.join(workspaceDir, RUNS_DIR);
  if (!fs.existsSync(root)) return [];
  const out: { dir: string; status: RunStatus; summary?: RunSummary }[] = [];
  const seen = new Set<string>();
  const now = Date.now();
  for (const name of fs.readdirSync(root)) {
    if (isTempName(name)) continue; // a run being created (or a dead one's leftovers)
    const dir = path.join(root, name);
    seen.add(dir);
    try {
      out.push({ dir, ...readRunRecords(dir, now) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      out.push({ dir, status: damagedStatus(dir, name, e) });
    }
  }
  statusCache.prune(root, seen);
  summaryCache.prune(root, seen);
  return out.sort((a, b) =>
    newestFirst({ started: a.status.started, runDir: a.dir }, { started: b.status.started, runDir: b.dir }),
  );
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
  return listRecords(workspaceDir).map(({ dir, status, summary }) => ({
    runId: status.runId,
    runDir: dir,
    experiment: status.experiment,
    state: status.state,
    started: status.started,
    ...(status.message ? { message: status.message } : {}),
    ...(status.progress ? { progress: status.progress } : {}),
    ...(summary ? { summary } : {}),
  }));
}

/** A run folder from a path or a run id (looked up in `<workspace>/.aft/runs/`). */
export function resolveRunDir(run: string, workspaceDir: string, where?: SourceLocation): string {
  const candidates = [path.resolve(run), path.join(workspaceDir, RUNS_DIR, run)];
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'status.json')));
  if (!dir)
    throw badInput(
      `no run '${run}': neither ${candidates.join(' nor ')} holds a status.json (aft runs lists the runs)`,
      where,
    );
  return dir;
}
