/**
 * Finishing runs whose process died. A sidecar killed with SIGKILL (or crashed hard) cannot
 * write anything, so its runs stay `running` in status.json. The extension, which saw the
 * process go, calls this for the runs that were in flight so that the store says `failed`.
 * Plain fs and no engine imports: the extension bundle imports this module.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunState } from '../../common/protocol/events';
import { writeJsonAtomic } from '../util/fsx';
import { sameProcessAlive } from '../util/process';

interface StatusFile {
  state: RunState;
  pid: number;
  processStart?: number;
  updated?: string;
  finished?: string;
  message?: string;
}

/**
 * Marks `runDir` failed when its status.json still says `running` for process `pid` (the process
 * that died), or for a process that is no longer alive (the sidecar's run process, gone with
 * it). A run whose own process still lives is left to it. Returns whether it changed the file.
 * Written atomically (util/fsx.ts), like the store; throws a `WriteError` when it cannot be
 * written.
 */
export function markAbandonedRun(runDir: string, pid: number, message: string): boolean {
  const file = path.join(runDir, 'status.json');
  let status: StatusFile;
  try {
    status = JSON.parse(fs.readFileSync(file, 'utf8')) as StatusFile;
  } catch {
    return false;
  }
  if (status.state !== 'running') return false;
  if (status.pid !== pid && sameProcessAlive(status.pid, status.processStart)) return false;
  const now = new Date().toISOString();
  const next = { ...status, state: 'failed' as RunState, updated: now, finished: now, message };
  writeJsonAtomic(file, next);
  return true;
}
