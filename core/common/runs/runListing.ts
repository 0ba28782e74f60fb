/**
 * A client's copy of a workspace's run listing, kept by applying `aft/listRunChanges` answers
 * (core/node/runs/listingJournal.ts makes them): after each answer it holds exactly what
 * `aft/listRuns` would have answered, newest first, for the cost of the rows that changed.
 */
import type { RunInfo, RunListingChanges } from '../protocol/rpc';

/** The listing's order: newest first; runs started in the same millisecond by folder. */
export function newestFirst(a: Pick<RunInfo, 'started' | 'runDir'>, b: Pick<RunInfo, 'started' | 'runDir'>): number {
  if (a.started !== b.started) return a.started < b.started ? 1 : -1;
  return a.runDir < b.runDir ? -1 : a.runDir > b.runDir ? 1 : 0;
}

export class RunListing {
  private rows = new Map<string, RunInfo>();
  private sorted: RunInfo[] = [];
  /** The cursor of the last answer applied (undefined before the first). */
  cursor: string | undefined;

  /** Applies one answer (in the order they came) and gives the whole listing, newest first. */
  apply(changes: RunListingChanges): RunInfo[] {
    if (changes.complete) this.rows = new Map();
    for (const runId of changes.removed) this.rows.delete(runId);
    for (const row of changes.runs) this.rows.set(row.runId, row);
    this.cursor = changes.cursor;
    if (changes.complete || changes.runs.length || changes.removed.length)
      this.sorted = [...this.rows.values()].sort(newestFirst);
    return this.sorted;
  }
}
