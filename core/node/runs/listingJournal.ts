/**
 * The run listing as changes since a client's last answer (`aft/listRunChanges`): a client that
 * polls a workspace of a thousand runs gets the few rows that changed (the runs training, one
 * that finished) instead of every row's summary again (1.4 MB of JSON that the sidecar writes and
 * the client parses at each poll: issue 15's 100 ms goal for a listing was lost there, not in the
 * reads). The rows are the same `runInfos` gives; a client that applies the changes in order
 * (core/common/runs/runListing.ts) holds exactly the full listing.
 *
 * A cursor is this journal's id and a generation: a cursor from another sidecar (it restarted) or
 * from a forgotten workspace gets the whole listing again, marked `complete`.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { RunInfo, RunListingChanges } from '../../common/protocol/rpc';
import { runInfos } from './store';

interface Known {
  row: RunInfo;
  /** The generation in which the row last changed (or appeared). */
  changed: number;
}

interface WorkspaceState {
  generation: number;
  rows: Map<string, Known>;
  /** Runs gone from the listing, and the generation in which they went. */
  removed: Map<string, number>;
}

/**
 * Whether two rows of one run differ. The summary is compared by identity: the run store's
 * readers keep a summary object while its file is unchanged (statCache.ts), so a new object is a
 * changed (or re-read) file, and comparing it whole at every poll would cost what this saves.
 */
function sameRow(a: RunInfo, b: RunInfo): boolean {
  return (
    a.state === b.state &&
    a.started === b.started &&
    a.experiment === b.experiment &&
    a.runDir === b.runDir &&
    a.message === b.message &&
    a.summary === b.summary &&
    a.progress?.fraction === b.progress?.fraction &&
    a.progress?.label === b.progress?.label &&
    a.progress?.etaSeconds === b.progress?.etaSeconds
  );
}

/** At most this many workspaces are remembered (a client of a forgotten one gets the whole listing). */
const MAX_WORKSPACES = 64;

export class RunListingJournal {
  private readonly id = randomBytes(6).toString('hex');
  private readonly workspaces = new Map<string, WorkspaceState>();

  constructor(private readonly list: (workspaceDir: string) => RunInfo[] = runInfos) {}

  /** The runs of `workspaceDir` that changed or went since the answer that gave `since`; all of them without it. */
  changes(workspaceDir: string, since?: string): RunListingChanges {
    return this.diff(workspaceDir, this.list(workspaceDir), since);
  }

  /** `changes`, for a listing of `workspaceDir` already read (`rows`, newest first). */
  diff(workspaceDir: string, rows: RunInfo[], since?: string): RunListingChanges {
    const key = path.resolve(workspaceDir);
    let ws = this.workspaces.get(key);
    if (!ws) {
      if (this.workspaces.size >= MAX_WORKSPACES) this.workspaces.delete(this.workspaces.keys().next().value!);
      ws = { generation: 0, rows: new Map(), removed: new Map() };
      this.workspaces.set(key, ws);
    }
    const generation = ws.generation + 1;
    let changedAny = false;
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.runId);
      const known = ws.rows.get(row.runId);
      if (known && sameRow(known.row, row)) continue;
      ws.rows.set(row.runId, { row, changed: generation });
      ws.removed.delete(row.runId);
      changedAny = true;
    }
    for (const runId of ws.rows.keys())
      if (!seen.has(runId)) {
        ws.rows.delete(runId);
        ws.removed.set(runId, generation);
        changedAny = true;
      }
    if (changedAny) ws.generation = generation;
    const cursor = `${this.id}:${ws.generation}`;
    const from = this.generationOf(since, ws);
    if (from === undefined) return { cursor, complete: true, runs: rows, removed: [] };
    return {
      cursor,
      complete: false,
      runs: rows.filter((r) => ws.rows.get(r.runId)!.changed > from),
      removed: [...ws.removed].filter(([, g]) => g > from).map(([runId]) => runId),
    };
  }

  /** The generation a cursor names, if it is this journal's for this workspace. */
  private generationOf(since: string | undefined, ws: WorkspaceState): number | undefined {
    if (since === undefined) return undefined;
    const [id, g] = since.split(':');
    const generation = Number(g);
    if (id !== this.id || !Number.isInteger(generation) || generation < 0 || generation > ws.generation)
      return undefined;
    return generation;
  }
}
