/**
 * The host side of one dashboard, free of `vscode` so that tests and benchmarks drive it in plain
 * Node: it polls the run folder (the run store is the contract; no sidecar needed), keeps the
 * full-resolution model, sends the whole run (as soon as it is read while the webview first
 * loads; else in answer to its `ready`) and then coalesced, downsampled `update`s, at most one
 * per `minIntervalMs` (100 ms: ≤ 10 a second).
 *
 * Polling rather than file watching: the store writes by rename (status, summary, ρ) and by
 * append (metrics), which watchers report unevenly across platforms and network drives; a stat
 * of three files and one folder every 250 ms is cheap and sees every write. A run that has
 * finished is read once and not polled again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompareRun, CurveRef, HostMessage } from '../../../core/common/protocol/webview';
import { RunAccumulator } from '../../../core/common/view/runAccumulator';
import { clampChartPoints, DEFAULT_MAX_POINTS, needsFinerPoints } from '../../../core/common/runs/curveViews';
import { readAllCurves, RunReader } from '../../../core/node/runs/reader';
import { silentLogger, type Logger } from '../util/log';
import { realTimers, Throttle, type Timers } from './throttle';

export interface SessionOptions {
  pollMs?: number;
  minIntervalMs?: number;
  /**
   * Points per curve to send before the page says how wide its charts are (`ready`): what the
   * last dashboard's charts drew (DashboardPanel remembers it), else (or when it is not a
   * number) FIRST_CHART_POINTS.
   */
  maxPoints?: unknown;
  /** Told the points per curve the page's charts draw, whenever it says (to remember for the next dashboard). */
  onChartPoints?: (points: number) => void;
  /** metrics.jsonl slice size and time budget per poll (tests make them small). */
  chunkBytes?: number;
  budgetMs?: number;
  timers?: Timers;
  log?: Logger;
}

/** Whether a folder looks like a run (has status.json). */
export function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'status.json'));
}

/** The run folder saved in a webview's state (what the serializer revives), if it is one. */
export function runDirFromState(state: unknown): string | undefined {
  const dir = typeof state === 'object' && state !== null ? (state as { runDir?: unknown }).runDir : undefined;
  return typeof dir === 'string' && path.isAbsolute(dir) && isRunDir(dir) ? dir : undefined;
}

export function runDirsFromState(state: unknown): string[] {
  const dirs = typeof state === 'object' && state !== null ? (state as { runDirs?: unknown }).runDirs : undefined;
  return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === 'string' && path.isAbsolute(d) && isRunDir(d)) : [];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/** After a failed read, the next one is this much later (or the poll interval, if longer). */
const RETRY_AFTER_ERROR_MS = 1000;

export class DashboardSession {
  private readonly reader: RunReader;
  private readonly acc: RunAccumulator;
  private readonly throttle: Throttle;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly rememberPoints: ((points: number) => void) | undefined;
  private pollTimer: unknown;
  private ready = false;
  private disposed = false;
  /** Not read yet, or metrics.jsonl holds more than one poll reads (a long run being opened). */
  private backlog = true;
  /** `ready` arrived during a backlog: send the whole run when it is read. */
  private snapshotDue = false;
  /**
   * The whole run was posted while the webview first loaded, before its `ready`: VS Code holds a
   * loading webview's messages and hands them over once its page (and so our listener) has
   * loaded, so the run arrives right after `ready` instead of a round trip later (~0.2–0.3 s for
   * the 1 MB of a long run in code-server). That first `ready` then needs no second copy; a page
   * that got nothing says `ready` again (webviews/src/common/host.ts) and gets the run.
   */
  private postedEarly = false;
  private readyOnce = false;
  /** The last read error said (the same one is not said again at every retry). */
  private lastError: string | undefined;

  constructor(
    readonly runDir: string,
    private readonly post: (m: HostMessage) => void,
    opts: SessionOptions = {},
  ) {
    this.timers = opts.timers ?? realTimers;
    this.log = opts.log ?? silentLogger;
    this.pollMs = opts.pollMs ?? 250;
    this.rememberPoints = opts.onChartPoints;
    // A finished run's metrics.view.json (DEFAULT_MAX_POINTS per curve, the most ever sent) is
    // read instead of every row, and its curves downsampled again to what the charts draw.
    this.reader = new RunReader(runDir, { viewPoints: DEFAULT_MAX_POINTS, ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}), ...(opts.budgetMs !== undefined ? { budgetMs: opts.budgetMs } : {}) });
    this.acc = new RunAccumulator(path.basename(runDir), runDir, clampChartPoints(opts.maxPoints));
    this.throttle = new Throttle(() => this.flush(), opts.minIntervalMs ?? 100, this.timers);
    // On the next turn: the panel's page goes to the webview first, and loads while this reads.
    this.ensurePolling(0);
  }

  /**
   * The webview is (again) listening: send the whole run (once a backlog has been read).
   * `chartPoints`: what its charts draw per curve; a run posted early with too few is sent again.
   */
  onReady(chartPoints?: number): void {
    this.ready = true;
    this.readyOnce = true;
    this.throttle.dispose();
    if (this.takeChartPoints(chartPoints)) this.postedEarly = false;
    if (this.postedEarly) {
      // It has the run (or will say `ready` again): only what changed since then is due.
      this.postedEarly = false;
      this.throttle.schedule();
    } else if (this.backlog) this.snapshotDue = true;
    else this.post({ type: 'run', run: this.acc.snapshot() });
    this.ensurePolling();
  }

  /** The page's charts grew (a resize) and draw this many points per curve: too few sent, send the run again. */
  onChartPoints(points: number): void {
    // Not listening (hidden, reloading): its `ready` will say how wide the charts are.
    if (!this.ready || !this.takeChartPoints(points)) return;
    if (this.backlog) this.snapshotDue = true;
    else this.post({ type: 'run', run: this.acc.snapshot() });
  }

  /**
   * Takes what the page's charts draw per curve; when that is clearly more than this session
   * sends, it sends that many from now on and returns true (the page needs the run again).
   */
  private takeChartPoints(points: number | undefined): boolean {
    if (points === undefined) return false;
    const wanted = clampChartPoints(points);
    this.rememberPoints?.(wanted);
    if (!needsFinerPoints(this.acc.maxPoints, wanted)) return false;
    this.acc.maxPoints = wanted;
    return true;
  }

  /** The webview went away (hidden without retained context, or reloading); wait for `ready`. */
  onHidden(): void {
    this.ready = false;
    this.snapshotDue = false;
  }

  /** Reads what changed now (the poll timer calls this; tests may too). */
  poll(): void {
    if (this.disposed) return;
    let changed: boolean;
    let more = false;
    try {
      const changes = this.reader.poll();
      more = changes.more;
      for (const p of changes.problems) this.log.warn(`dashboard: ${p}`);
      changed = this.acc.apply(changes);
      // A replaced metrics file: updates only add or replace series, so send the whole run again
      // (now, or in answer to the `ready` still to come).
      if (changes.reset && this.ready) this.snapshotDue = true;
      else if (changes.reset) this.postedEarly = false;
    } catch (e) {
      // Said once per distinct error, and read again a little later: a read that failed (a file
      // replaced under the reader, a network drive's hiccup) must not end a live dashboard.
      const message = `Could not read the run folder ${this.runDir}: ${(e as Error).message}`;
      if (message !== this.lastError) {
        this.log.error(`dashboard: ${message}`);
        if (this.ready) this.post({ type: 'error', message });
      }
      this.lastError = message;
      this.ensurePolling(Math.max(this.pollMs, RETRY_AFTER_ERROR_MS));
      return;
    }
    this.lastError = undefined;
    // A long metrics file is read a slice per turn of the event loop, not in one blocking read,
    // and sent once it is all read: one downsampling and one message instead of one per slice.
    this.backlog = more;
    if (this.ready && !more && this.snapshotDue) {
      this.snapshotDue = false;
      this.post({ type: 'run', run: this.acc.snapshot() });
    } else if (!this.ready && !this.readyOnce && !more && changed && !this.postedEarly) {
      // Read while the webview first loads: send it now, once (see `postedEarly`); what changes
      // before `ready` follows as an update. (Not while it is hidden later: a hidden webview
      // without retained context has no page to take it.)
      this.post({ type: 'run', run: this.acc.snapshot() });
      this.postedEarly = true;
    } else if (changed && this.ready && !more && !this.snapshotDue) this.throttle.schedule();
    this.ensurePolling(more ? 0 : this.pollMs);
  }

  curvesCsv(refs: readonly CurveRef[]): string {
    return this.acc.curvesCsv(refs, () => {
      const all = readAllCurves(this.runDir);
      for (const p of all.problems) this.log.warn(`dashboard: ${p}`);
      return all;
    });
  }

  get finished(): boolean {
    return TERMINAL.has(this.acc.state) && (this.acc.state !== 'completed' || this.acc.hasSummary);
  }

  private ensurePolling(delay = this.pollMs): void {
    if (this.disposed || this.pollTimer !== undefined || (this.finished && delay > 0)) return;
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = undefined;
      this.poll();
    }, delay);
  }

  private flush(): void {
    if (!this.ready || this.disposed || this.snapshotDue) return;
    const u = this.acc.takeUpdate();
    if (u) this.post(u);
  }

  dispose(): void {
    this.disposed = true;
    this.throttle.dispose();
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }
}

/** The host side of the comparison view: the runs' status and summary, re-sent while any runs. */
export class CompareSession {
  private readonly readers: RunReader[];
  private readonly runs: CompareRun[];
  private readonly timers: Timers;
  private readonly throttle: Throttle;
  private pollTimer: unknown;
  private ready = false;
  private disposed = false;

  constructor(
    readonly runDirs: string[],
    private readonly post: (m: HostMessage) => void,
    opts: SessionOptions = {},
  ) {
    this.timers = opts.timers ?? realTimers;
    this.readers = runDirs.map((d) => new RunReader(d, { metrics: false, rho: false }));
    this.runs = runDirs.map((d) => ({ runId: path.basename(d), experiment: '', location: d, state: 'running' }));
    this.throttle = new Throttle(() => this.ready && this.post({ type: 'compare', runs: this.runs }), opts.minIntervalMs ?? 100, this.timers);
    this.poll(opts.pollMs ?? 1000);
  }

  onReady(): void {
    this.ready = true;
    this.post({ type: 'compare', runs: this.runs });
  }

  onHidden(): void {
    this.ready = false;
  }

  private poll(pollMs: number): void {
    if (this.disposed) return;
    let changed = false;
    this.readers.forEach((r, i) => {
      const c = r.poll();
      const run = this.runs[i];
      if (c.status) {
        this.runs[i] = { ...run, experiment: c.status.experiment, state: c.status.state };
        changed = true;
      }
      if (c.summary) {
        this.runs[i] = { ...this.runs[i], summary: c.summary };
        changed = true;
      }
    });
    if (changed && this.ready) this.throttle.schedule();
    if (this.runs.some((r) => r.state === 'running' || (r.state === 'completed' && !r.summary))) {
      this.pollTimer = this.timers.setTimeout(() => this.poll(pollMs), pollMs);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.throttle.dispose();
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
  }
}
