/**
 * The host side of one dashboard, free of `vscode` so that tests and benchmarks drive it in plain
 * Node: it polls the run folder (the run store is the contract; no sidecar needed), keeps the
 * full-resolution model, sends the whole run (as soon as it is read while the webview first
 * loads; else in answer to its `ready`) and then coalesced, downsampled `update`s, at most one
 * per `minIntervalMs` (100 ms: ≤ 10 a second). What the page has been sent and is owed is one
 * state (`PageState`), changed only by `DashboardSession.step`.
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
  return Array.isArray(dirs)
    ? dirs.filter((d): d is string => typeof d === 'string' && path.isAbsolute(d) && isRunDir(d))
    : [];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/** After a failed read, the next one is this much later (or the poll interval, if longer). */
const RETRY_AFTER_ERROR_MS = 1000;

/**
 * The ready handshake (ARCHITECTURE.md; the header of core/common/protocol/webview.ts): what the
 * webview's page has been sent and what it is owed. The kinds are named after what host and page
 * both know at that point.
 */
type PageState =
  /**
   * The page is loading for the first time and has been sent nothing: the whole run is posted as
   * soon as it is read whole, before the page's `ready`. VS Code holds a loading webview's
   * messages and hands them over once its page (and so its listener) has loaded, so the run
   * arrives right after `ready` instead of a round trip later (~0.2–0.3 s for the 1 MB of a long
   * run in code-server).
   */
  | { kind: 'loading' }
  /**
   * The page is still loading and the whole run has been posted to it: its `ready` needs only
   * what changed since, unless its charts need finer curves. A page that got nothing says `ready`
   * again 2 s later (webviews/src/common/host.ts) and, being `ready` by then, gets the run.
   */
  | { kind: 'postedEarly' }
  /**
   * The page said `ready` and listens: what changes goes to it as throttled updates. `runDue`: the
   * whole run is owed (its `ready` or a resize came, or the metrics file was replaced, while a
   * backlog was being read); it is posted once the backlog is read, and no update goes before it.
   */
  | { kind: 'ready'; runDue: boolean }
  /**
   * The page went away after listening (hidden without retained context, or reloading): nothing
   * is posted until its `ready`, which gets the whole run. Not posted early as on the first load:
   * a hidden webview has no page to take it.
   */
  | { kind: 'hidden' }
  /** The panel closed: nothing is posted or read again. */
  | { kind: 'disposed' };

/** What moves the handshake: the page's messages, a poll's outcome, the panel. */
type PageEvent =
  /** A poll read and folded into the model what changed (`backlog` already says whether more is left). */
  | { kind: 'read'; changed: boolean; reset: boolean }
  /** A poll failed with an error not said before. */
  | { kind: 'readFailed'; message: string }
  | { kind: 'ready'; chartPoints: number | undefined }
  | { kind: 'chartPoints'; points: number }
  | { kind: 'hidden' }
  | { kind: 'dispose' };

export class DashboardSession {
  private readonly reader: RunReader;
  private readonly acc: RunAccumulator;
  private readonly throttle: Throttle;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly rememberPoints: ((points: number) => void) | undefined;
  private pollTimer: unknown;
  /** Changed only by `step`. */
  private state: PageState = { kind: 'loading' };
  /**
   * The model is behind the run folder: not read yet, or metrics.jsonl holds more than one poll
   * reads (a long run being opened). A whole run is not posted while it is: it would be partial.
   */
  private backlog = true;
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
    this.reader = new RunReader(runDir, {
      viewPoints: DEFAULT_MAX_POINTS,
      ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}),
      ...(opts.budgetMs !== undefined ? { budgetMs: opts.budgetMs } : {}),
    });
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
    this.step({ kind: 'ready', chartPoints });
    this.ensurePolling();
  }

  /** The page's charts grew (a resize) and draw this many points per curve: too few sent, send the run again. */
  onChartPoints(points: number): void {
    this.step({ kind: 'chartPoints', points });
  }

  /** The webview went away (hidden without retained context, or reloading); wait for `ready`. */
  onHidden(): void {
    this.step({ kind: 'hidden' });
  }

  /** Reads what changed now (the poll timer calls this; tests may too). */
  poll(): void {
    if (this.state.kind === 'disposed') return;
    const read = this.readChanges();
    if (read) this.step(read);
    // A long metrics file is read a slice per turn of the event loop, not in one blocking read;
    // a failed read is tried again a little later.
    this.ensurePolling(!read ? Math.max(this.pollMs, RETRY_AFTER_ERROR_MS) : this.backlog ? 0 : this.pollMs);
  }

  /**
   * The handshake's transitions, all of them, and what each posts. From each state, on each event
   * (any other pair changes nothing and posts nothing):
   *
   *   loading      read, caught up, changed    → post the run; postedEarly
   *                ready                       → ready; the run now or when read
   *   postedEarly  read, metrics reset         → loading, and the read taken as there
   *                ready, not finer            → ready; an update
   *                ready, finer                → ready; the run now or when read
   *   ready        read, run due or reset      → the run now or when read
   *                read, caught up, changed    → an update
   *                ready, or chartPoints finer → the run now or when read
   *                readFailed                  → post the error
   *                hidden                      → hidden
   *   hidden       ready                       → ready; the run now or when read
   *   (any)        dispose                     → disposed, for good
   *
   * "caught up": no backlog; "the run now or when read": `runNowOrDue`; "finer": the charts draw
   * clearly more points than were sent (`takeChartPoints`); "an update": the throttle's next turn.
   */
  private step(e: PageEvent): void {
    const s = this.state;
    if (s.kind === 'disposed') return;
    switch (e.kind) {
      case 'read':
        if (s.kind === 'ready') {
          // A replaced metrics file: updates only add or replace series, so the whole run is due.
          // A backlog is sent once it is all read: one downsampling and one message, not one per slice.
          if (s.runDue || e.reset) this.state = this.runNowOrDue();
          else if (e.changed && !this.backlog) this.throttle.schedule();
        } else if (s.kind === 'loading' || (s.kind === 'postedEarly' && e.reset)) {
          // Read while the page first loads: post it now, once; what changes before `ready` follows
          // as an update. A replaced metrics file makes a run posted early stale: post it again.
          if (e.changed && !this.backlog) {
            this.post({ type: 'run', run: this.acc.snapshot() });
            this.state = { kind: 'postedEarly' };
          } else this.state = { kind: 'loading' };
        }
        return;
      case 'readFailed':
        if (s.kind === 'ready') this.post({ type: 'error', message: e.message });
        return;
      case 'ready': {
        // A pending update is superseded: the run carries it, or it is scheduled again below.
        this.throttle.dispose();
        const finer = this.takeChartPoints(e.chartPoints);
        if (s.kind === 'postedEarly' && !finer) {
          // It has the run (or will say `ready` again): only what changed since then is due.
          this.state = { kind: 'ready', runDue: false };
          this.throttle.schedule();
        } else this.state = this.runNowOrDue();
        return;
      }
      case 'chartPoints':
        // Not listening (loading, hidden): its `ready` will say how wide the charts are.
        if (s.kind === 'ready' && this.takeChartPoints(e.points)) this.state = this.runNowOrDue();
        return;
      case 'hidden':
        // A page still loading keeps what it was sent; one that listened will need the whole run.
        if (s.kind === 'ready') this.state = { kind: 'hidden' };
        return;
      case 'dispose':
        this.state = { kind: 'disposed' };
        return;
    }
  }

  /** A listening page's whole run: posted now, or due once the backlog is read. */
  private runNowOrDue(): PageState {
    if (this.backlog) return { kind: 'ready', runDue: true };
    this.post({ type: 'run', run: this.acc.snapshot() });
    return { kind: 'ready', runDue: false };
  }

  /**
   * Reads what changed and folds it into the model, as the event `step` takes; undefined when
   * the read failed (`step` is told only an error not said before).
   */
  private readChanges(): Extract<PageEvent, { kind: 'read' }> | undefined {
    try {
      const changes = this.reader.poll();
      for (const p of changes.problems) this.log.warn(`dashboard: ${p}`);
      const changed = this.acc.apply(changes);
      this.backlog = changes.more;
      this.lastError = undefined;
      return { kind: 'read', changed, reset: changes.reset === true };
    } catch (e) {
      // Said once per distinct error, and read again a little later: a read that failed (a file
      // replaced under the reader, a network drive's hiccup) must not end a live dashboard.
      const message = `Could not read the run folder ${this.runDir}: ${(e as Error).message}`;
      if (message !== this.lastError) {
        this.log.error(`dashboard: ${message}`);
        this.step({ kind: 'readFailed', message });
      }
      this.lastError = message;
      return undefined;
    }
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
    if (this.state.kind === 'disposed' || this.pollTimer !== undefined || (this.finished && delay > 0)) return;
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = undefined;
      this.poll();
    }, delay);
  }

  /** The throttle's turn: what changed since the last message, to a page that listens and is owed no whole run. */
  private flush(): void {
    if (this.state.kind !== 'ready' || this.state.runDue) return;
    const u = this.acc.takeUpdate();
    if (u) this.post(u);
  }

  dispose(): void {
    this.step({ kind: 'dispose' });
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
    this.throttle = new Throttle(
      () => this.ready && this.post({ type: 'compare', runs: this.runs }),
      opts.minIntervalMs ?? 100,
      this.timers,
    );
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
