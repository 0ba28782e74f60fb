/**
 * What the Runs view and the status bar show: the runs of every workspace folder, as the run
 * store lists them (studio.ts reads the store in this process), merged with live events for the
 * running ones. A listing rebuilds only the rows that changed since the last one
 * (core/node/runs/listingJournal.ts): the store's status files change every second while a run
 * trains, and rebuilding a thousand rows each time cost the extension host ~0.1 s.
 * Free of `vscode`; every number it holds comes from the store or from an event.
 */
import * as path from 'node:path';
import type { MethodSummary, ProgressEvent, RunEvent } from '../../../core/common/protocol/events';
import type { RunInfo, RunListingChanges } from '../../../core/common/protocol/rpc';
import type { StudyInfo } from '../../../core/common/runs/study';
import { RunListingJournal } from '../../../core/node/runs/listingJournal';
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

const isUnder = (file: string, dir: string): boolean => file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);

export class RunsModel {
  private rows = new Map<string, RunRow>();
  /** `runs`, sorted once per change: the Runs view asks for it for every item it draws. */
  private sorted: RunRow[] | undefined;
  private studyRows = new Map<string, StudyRow>();
  private readonly changed = new Emitter<void>();
  readonly onDidChange = this.changed.event;
  private refreshing: Promise<void> | undefined;
  /** Which runs changed between listings, by workspace folder (the cursors of `journal`'s answers). */
  private readonly journal = new RunListingJournal();
  private readonly cursors = new Map<string, string>();
  /** The studies as the view last drew them. */
  private shownStudies: string | undefined;
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
    const dirs = this.workspaceDirs();
    const studies = new Map<string, StudyRow>();
    let changed = false;
    for (const dir of dirs) {
      try {
        for (const s of (await this.source.listStudies?.(dir)) ?? []) {
          const old = this.studyRows.get(s.dir);
          studies.set(s.dir, { ...s, ...(s.state === 'running' && old?.live ? { live: old.live } : {}) });
        }
      } catch (e) {
        this.log.warn(`could not list the studies in ${dir}: ${(e as Error).message}`);
        for (const r of this.studyRows.values()) if (r.dir.startsWith(dir)) studies.set(r.dir, r);
      }
      let answer: RunListingChanges;
      try {
        answer = this.journal.diff(dir, await this.source.listRuns(dir), this.cursors.get(dir));
      } catch (e) {
        // Keep what is known for this folder rather than showing it empty.
        this.log.warn(`could not list the runs in ${dir}: ${(e as Error).message}`);
        continue;
      }
      this.cursors.set(dir, answer.cursor);
      changed = this.apply(dir, answer) || changed;
    }
    // Runs of workspace folders that were closed.
    for (const [runId, r] of this.rows)
      if (!dirs.some((d) => isUnder(r.runDir, d))) {
        this.rows.delete(runId);
        changed = true;
      }
    for (const d of this.cursors.keys()) if (!dirs.includes(d)) this.cursors.delete(d);
    this.studyRows = studies;
    // A listing that changed nothing the view shows does not redraw it: a redraw replaces the
    // tree items' commands, and a click that lands during one is lost ("command not found").
    const shown = JSON.stringify([...studies.values()].map(({ live: _live, ...st }) => st));
    if (shown !== this.shownStudies) {
      this.shownStudies = shown;
      changed = true;
    }
    if (!changed) return;
    this.sorted = undefined;
    this.changed.fire();
  }

  /**
   * Takes in the rows of `dir` that changed since the last listing (every row when `complete`):
   * only they are rebuilt, so a listing of a thousand runs in which two moved costs two rows.
   * Whether anything changed.
   */
  private apply(dir: string, answer: RunListingChanges): boolean {
    if (answer.complete) {
      const listed = new Set(answer.runs.map((r) => r.runId));
      for (const [runId, r] of this.rows) if (isUnder(r.runDir, dir) && !listed.has(runId)) this.rows.delete(runId);
    }
    for (const runId of answer.removed) this.rows.delete(runId);
    for (const info of answer.runs) {
      const old = this.rows.get(info.runId);
      // A live terminal state is newer than a store read that raced with it.
      const state = old && old.state !== 'running' && info.state === 'running' ? old.state : info.state;
      this.rows.set(info.runId, {
        ...info,
        state,
        results: info.summary?.methods ?? old?.results ?? {},
        ...(state === 'running' && old?.live ? { live: old.live } : {}),
      });
    }
    return answer.complete || answer.runs.length > 0 || answer.removed.length > 0;
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
