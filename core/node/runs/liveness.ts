/**
 * THE rule by which a record that says `running` (a run's status.json, a shard's worker record)
 * is believed (docs/run-store.md): on this host its process must still be the one that wrote it
 * (pid and start time), and on any host its heartbeat must be fresh: refreshed within 3
 * heartbeats and never judged stale before STALE_FLOOR_SECONDS (a long synchronous computation
 * delays beats).
 */
import * as os from 'node:os';
import { sameProcessAlive } from '../util/process';

export const STALE_FLOOR_SECONDS = 300;

export interface LiveRecord {
  pid: number;
  processStart?: number;
  host: string;
  /** The heartbeat (ISO time). */
  updated: string;
  heartbeatSeconds?: number;
}

/** Why a `running` record's writer is gone, or undefined while it lives. */
export function deadReason(s: LiveRecord, now = Date.now()): string | undefined {
  if (s.host === os.hostname() && !sameProcessAlive(s.pid, s.processStart))
    return `the process (pid ${s.pid}) running it ended without finishing (killed or crashed)`;
  const bound = Math.max(3 * (s.heartbeatSeconds ?? 0), STALE_FLOOR_SECONDS);
  const age = (now - Date.parse(s.updated)) / 1000;
  if (age > bound)
    return `stopped answering: no heartbeat since ${s.updated} (${Math.round(age)} s; expected every ${s.heartbeatSeconds ?? '?'} s) from pid ${s.pid} on ${s.host}`;
  return undefined;
}
