/**
 * The host side of the experiments table, free of `vscode` (tests and the benchmark drive it in
 * plain Node): it builds the rows from the run store of every workspace folder
 * (core/node/runs/tableRows.ts; files read once per version), posts them when the page is
 * `ready`, and then polls the store while the page is shown, posting the rows again only when
 * they changed (a run finished, was added or deleted). `refresh` reads at once.
 *
 * Like the dashboard's, the first rows are posted as soon as they are read, while the page
 * first loads (VS Code holds the message until it has): reading a thousand runs then overlaps
 * the page's load instead of following its `ready`. A page that got nothing says `ready` again and
 * gets them.
 *
 * The best and last accuracies come from each run's curves, the most costly read: a first open of
 * a thousand runs posts the rows as soon as the rest is read, then reads the curves in slices of
 * `sliceMs` (the extension host stays responsive; nothing else is read meanwhile) and posts the
 * rows again once all are in.
 */
import type { HostMessage, TableRun } from '../../../core/common/protocol/webview';
import type { RunInfo } from '../../../core/common/protocol/rpc';
import { readCurves, tableRuns } from '../../../core/node/runs/tableRows';
import { realTimers, type Timers } from '../dashboard/throttle';
import { silentLogger, type Logger } from '../util/log';

export interface TableSessionOptions {
  /** How often the store is read again while the page is shown (default 3 s). */
  pollMs?: number;
  /** How long one slice of curve reading may take (default 50 ms). */
  sliceMs?: number;
  timers?: Timers;
  log?: Logger;
}

export class TableSession {
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly sliceMs: number;
  private pollTimer: unknown;
  /** `loading`: nothing posted yet; `postedEarly`: the rows went to the loading page; `ready`: it listens; `hidden`. */
  private page: 'loading' | 'postedEarly' | 'ready' | 'hidden' = 'loading';
  private disposed = false;
  private sent = '';
  private byId = new Map<string, TableRun>();

  constructor(
    /** The folders whose `.aft/runs` are listed (the workspace folders, or `aft.runsFolder`). */
    private readonly workspaceDirs: () => string[],
    private readonly post: (m: HostMessage) => void,
    opts: TableSessionOptions = {},
  ) {
    this.timers = opts.timers ?? realTimers;
    this.log = opts.log ?? silentLogger;
    this.pollMs = opts.pollMs ?? 3000;
    this.sliceMs = opts.sliceMs ?? 50;
    this.pollTimer = this.timers.setTimeout(() => {
      if (this.page !== 'loading') return;
      this.page = 'postedEarly';
      this.tick();
    }, 0);
  }

  /** Every run of every folder, newest first; curves not read yet are read for at most `curvesBudgetMs`. */
  read(curvesBudgetMs = Number.POSITIVE_INFINITY): { runs: TableRun[]; pending: RunInfo[] } {
    const runs: TableRun[] = [];
    const pending: RunInfo[] = [];
    for (const dir of this.workspaceDirs()) {
      try {
        const t = tableRuns(dir, curvesBudgetMs);
        runs.push(...t.runs);
        pending.push(...t.pending);
      } catch (e) {
        this.log.warn(`experiments table: could not list the runs in ${dir}: ${(e as Error).message}`);
      }
    }
    runs.sort((a, b) => (a.started < b.started ? 1 : a.started > b.started ? -1 : 0));
    return { runs, pending };
  }

  onReady(): void {
    // The rows posted while the page loaded reached it (else it says `ready` again, below).
    if (this.page === 'postedEarly') {
      this.page = 'ready';
      return;
    }
    this.page = 'ready';
    this.sent = '';
    this.tick();
  }

  onHidden(): void {
    this.page = 'hidden';
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  onRefresh(): void {
    if (this.page === 'ready') this.tick();
  }

  /** The folders of these runs, as last sent (ids the page could not have been sent are left out). */
  dirsOf(runIds: readonly string[]): string[] {
    return runIds.map((id) => this.byId.get(id)?.location).filter((d): d is string => d !== undefined);
  }

  private tick(): void {
    if (this.disposed || this.page === 'hidden' || this.page === 'loading') return;
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    const { runs, pending } = this.read(this.sliceMs);
    const text = JSON.stringify(runs);
    if (text !== this.sent) {
      this.sent = text;
      this.byId = new Map(runs.map((r) => [r.runId, r]));
      this.post({ type: 'table', runs });
    }
    if (pending.length) this.fill(pending);
    else this.pollTimer = this.timers.setTimeout(() => this.tick(), this.pollMs);
  }

  /** Reads the curves of `pending` runs in slices of `sliceMs`, then lists again (and posts the complete rows). */
  private fill(pending: RunInfo[]): void {
    this.pollTimer = this.timers.setTimeout(() => {
      if (this.disposed || this.page === 'hidden') return;
      const until = this.timers.now() + this.sliceMs;
      let i = 0;
      // At least one run a slice, so that the reading always ends.
      do readCurves(pending[i++]);
      while (i < pending.length && this.timers.now() < until);
      if (i < pending.length) this.fill(pending.slice(i));
      else this.tick();
    }, 0);
  }

  dispose(): void {
    this.disposed = true;
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
  }
}
