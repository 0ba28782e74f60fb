/**
 * What the Runs view and the status bar show: the runs of every workspace folder, as the run
 * store lists them (through the sidecar), merged with live events for the running ones.
 * Free of `vscode`; every number it holds comes from the store or from an event.
 */
import type { MethodSummary, ProgressEvent, RunEvent } from '../../../core/common/protocol/events';
import type { RunInfo } from '../../../core/common/protocol/rpc';
import type { StudyInfo } from '../../../core/common/runs/study';
import { Emitter } from '../util/emitter';
import type { Logger } from '../util/log';

export interface RunRow extends RunInfo {
  /** The latest progress event of a running run. */
  live?: ProgressEvent;
  /** Method results that arrived while the run was still going. */
  results: Record<string, MethodSummary>;
}

export interface RunsSource {
  listRuns(workspaceDir: string): Promise<RunInfo[]>;
  listStudies?(workspaceDir: string): Promise<StudyInfo[]>;
}

/** A study in the Runs view: its record and runs from the store, and its latest live progress. */
export interface StudyRow extends StudyInfo {
  live?: ProgressEvent;
}

export class RunsModel {
  private rows = new Map<string, RunRow>();
  /** `runs`, sorted once per change: the Runs view asks for it for every item it draws. */
  private sorted: RunRow[] | undefined;
  private studyRows = new Map<string, StudyRow>();
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;
  private refreshing: Promise<void> | undefined;
  /** The signature of what the view last drew from a listing. */
  private shown: string | undefined;
  private again = false;

  constructor(
    private readonly source: RunsSource,
    private readonly workspaceDirs: () => string[],
    private readonly log: Logger,
  ) {}

  /** Runs, newest first. */
  get runs(): readonly RunRow[] {
    this.sorted ??= [...this.rows.values()].sort((a, b) =>
      a.started < b.started ? 1 : a.started > b.started ? -1 : 0,
    );
    return this.sorted;
  }

  /** Studies, newest first; their runs are theirs, not in `runs`. */
  get studies(): StudyRow[] {
    return [...this.studyRows.values()].sort((a, b) => b.record.started.localeCompare(a.record.started));
  }

  study(dir: string): StudyRow | undefined {
    return this.studyRows.get(dir);
  }

  get running(): RunRow[] {
    return this.runs.filter((r) => r.state === 'running');
  }

  get(runId: string): RunRow | undefined {
    return this.rows.get(runId);
  }

  /** Re-reads the run store; concurrent calls coalesce into one more pass. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const next = new Map<string, RunRow>();
    const studies = new Map<string, StudyRow>();
    for (const dir of this.workspaceDirs()) {
      try {
        for (const s of (await this.source.listStudies?.(dir)) ?? []) {
          const old = this.studyRows.get(s.dir);
          studies.set(s.dir, { ...s, ...(s.state === 'running' && old?.live ? { live: old.live } : {}) });
        }
      } catch (e) {
        this.log.warn(`could not list the studies in ${dir}: ${(e as Error).message}`);
        for (const r of this.studyRows.values()) if (r.dir.startsWith(dir)) studies.set(r.dir, r);
      }
      let infos: RunInfo[];
      try {
        infos = await this.source.listRuns(dir);
      } catch (e) {
        this.log.warn(`could not list the runs in ${dir}: ${(e as Error).message}`);
        // Keep what is known for this folder rather than showing it empty.
        for (const r of this.rows.values()) if (r.runDir.startsWith(dir)) next.set(r.runId, r);
        continue;
      }
      for (const info of infos) {
        const old = this.rows.get(info.runId);
        // A live terminal state is newer than a store read that raced with it.
        const state = old && old.state !== 'running' && info.state === 'running' ? old.state : info.state;
        next.set(info.runId, {
          ...info,
          state,
          results: info.summary?.methods ?? old?.results ?? {},
          ...(state === 'running' && old?.live ? { live: old.live } : {}),
        });
      }
    }
    this.rows = next;
    this.sorted = undefined;
    this.studyRows = studies;
    // A listing that changed nothing the view shows does not redraw it: a redraw replaces the
    // tree items' commands, and a click that lands during one is lost ("command not found").
    const shown = this.signature();
    if (shown === this.shown) return;
    this.shown = shown;
    this.changed.fire();
  }

  /** The rows and studies as listed (live events change the view on their own). */
  private signature(): string {
    const runs = [...this.rows.values()].map(({ live: _live, ...r }) => r);
    const studies = [...this.studyRows.values()].map(({ live: _live, ...st }) => st);
    return JSON.stringify([runs, studies]);
  }

  /** Applies a live event from the sidecar. */
  handle(e: RunEvent): void {
    if (e.type === 'log' || e.type === 'metrics' || e.type === 'rho') return;
    // A study's runs are shown under the study: its progress is the whole study's.
    if ((e.type === 'progress' || e.type === 'status') && e.study) {
      const study = this.studyRows.get(e.study.studyDir);
      if (e.type === 'progress' && study) study.live = e;
      if (e.type === 'status') {
        if (study && e.state !== 'running') delete study.live;
        void this.refresh();
      }
      this.changed.fire();
      return;
    }
    let row = this.rows.get(e.runId);
    if (e.type === 'status') {
      if (!row) {
        row = {
          runId: e.runId,
          runDir: e.runDir,
          experiment: e.runId.replace(/-\d{8}-\d{6}-\w+$/, ''),
          state: e.state,
          started: new Date().toISOString(),
          results: {},
        };
        this.rows.set(e.runId, row);
        this.sorted = undefined;
      }
      row.state = e.state;
      if (e.message) row.message = e.message;
      if (e.state !== 'running') {
        delete row.live;
        // The summary (accuracies) is in the store now.
        void this.refresh();
      }
    } else if (row && e.type === 'progress') {
      row.live = e;
    } else if (row && e.type === 'result') {
      row.results = { ...row.results, [e.method]: e.result };
    }
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
