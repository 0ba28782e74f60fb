/**
 * The host's model of one run: full-resolution series, the latest ρ per method and seed, status
 * and summary. It turns what a reader found into the dashboard's messages: a whole `RunView`
 * after `ready`, then coalesced `update`s holding only what changed since the last one.
 * Shared by the extension host and the HTML report; pure (no DOM, no Node).
 */
import type { RunSummary } from '../protocol/events';
import type { RunChanges } from '../runs/changes';
import type { RunStatus } from '../runs/records';
import type { CurveRef, RhoSnapshot, RunStatusView, RunView, UpdateMessage } from '../protocol/webview';
import { DEFAULT_MAX_POINTS } from '../runs/curveViews';
import { SeriesModel } from './seriesModel';

export { DEFAULT_MAX_POINTS };

/** What a `RunReader` poll found (its problems and `more` are the caller's business). */
export type RunInput = Omit<RunChanges, 'problems' | 'more'>;

export function statusView(s: RunStatus): RunStatusView {
  return {
    runId: s.runId,
    experiment: s.experiment,
    state: s.state,
    started: s.started,
    updated: s.updated,
    ...(s.finished !== undefined ? { finished: s.finished } : {}),
    ...(s.message !== undefined ? { message: s.message } : {}),
    ...(s.progress ? { progress: s.progress } : {}),
  };
}

const rhoKey = (r: { method: string; seed: number }): string => `${r.method}/${r.seed}`;

export class RunAccumulator {
  private readonly series = new SeriesModel();
  private readonly rho = new Map<string, RhoSnapshot>();
  private status: RunStatusView;
  private summary: RunSummary | undefined;
  private readonly pending = { series: new Set<string>(), rho: new Set<string>(), status: false, summary: false };

  constructor(
    /** The run's folder name: the id messages carry, whatever status.json later says. */
    readonly runId: string,
    readonly location: string,
    /** Points per curve sent; a dashboard's session raises it when its charts are wider. */
    public maxPoints = DEFAULT_MAX_POINTS,
  ) {
    this.status = { runId, experiment: '', state: 'running', started: '', updated: '' };
  }

  get state(): RunStatusView['state'] {
    return this.status.state;
  }

  get hasSummary(): boolean {
    return this.summary !== undefined;
  }

  /** Takes in what a reader found; returns whether anything changed. */
  apply(input: RunInput): boolean {
    if (input.reset) {
      this.series.clear();
      this.pending.series.clear();
    }
    if (input.views) for (const id of this.series.loadViews(input.views)) this.pending.series.add(id);
    if (input.series) for (const id of this.series.load(input.series)) this.pending.series.add(id);
    for (const id of this.series.add(input.rows)) this.pending.series.add(id);
    for (const r of input.rho) {
      const snap: RhoSnapshot = {
        method: r.method,
        seed: r.seed,
        ...(r.step !== undefined ? { step: r.step } : {}),
        segments: r.segments,
        values: r.values,
      };
      this.rho.set(rhoKey(r), snap);
      this.pending.rho.add(rhoKey(r));
    }
    if (input.status) {
      this.status = statusView(input.status);
      this.pending.status = true;
    }
    if (input.summary) {
      this.summary = input.summary;
      this.pending.summary = true;
    }
    return this.pending.series.size > 0 || this.pending.rho.size > 0 || this.pending.status || this.pending.summary;
  }

  /**
   * These curves at full resolution as CSV (every logged row; unknown ones are left out).
   * `readAll` reads the whole run when a series is held only downsampled (metrics.view.json).
   */
  curvesCsv(refs: readonly CurveRef[], readAll: () => Pick<RunInput, 'series' | 'rows'>): string {
    if (this.series.lacksFullResolution(refs)) {
      // The same series at full resolution: their views would come out the same, so nothing is pending.
      const all = readAll();
      if (all.series) this.series.load(all.series);
      this.series.add(all.rows);
    }
    return this.series.curvesCsv(refs);
  }

  /** Everything (and forgets what was pending: the snapshot includes it). */
  snapshot(): RunView {
    this.clearPending();
    return {
      runId: this.runId,
      location: this.location,
      status: this.status,
      ...(this.summary ? { summary: this.summary } : {}),
      series: this.series.views(this.maxPoints),
      rho: [...this.rho.values()],
      maxPoints: this.maxPoints,
    };
  }

  /** What changed since the last snapshot or update, or undefined when nothing did. */
  takeUpdate(): UpdateMessage | undefined {
    const p = this.pending;
    if (!p.series.size && !p.rho.size && !p.status && !p.summary) return undefined;
    const u: UpdateMessage = { type: 'update', runId: this.runId };
    if (p.series.size) u.series = [...p.series].map((id) => this.series.view(id, this.maxPoints)!);
    if (p.rho.size) u.rho = [...p.rho].map((k) => this.rho.get(k)!);
    if (p.status) u.status = this.status;
    if (p.summary && this.summary) u.summary = this.summary;
    this.clearPending();
    return u;
  }

  private clearPending(): void {
    this.pending.series.clear();
    this.pending.rho.clear();
    this.pending.status = false;
    this.pending.summary = false;
  }
}
