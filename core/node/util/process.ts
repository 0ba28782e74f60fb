/**
 * Whether a process that wrote a file is still the one running: a pid alone is not enough, since
 * pids are reused. On Linux a process is also named by its start time (/proc/PID/stat field 22,
 * clock ticks since boot), which a reused pid does not share.
 */
import * as fs from 'node:fs';

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The start time of process `pid` (Linux: /proc/PID/stat field 22), or undefined where unknown. */
export function processStart(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command name) is in parentheses and may hold spaces or ')': count after the last ')'.
    const fields = stat
      .slice(stat.lastIndexOf(')') + 1)
      .trim()
      .split(/\s+/);
    const start = Number(fields[22 - 3]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process `pid` (started at `start`, when known) is still running: false when the pid
 * is gone, or when it now belongs to a process that started at another time (a reused pid).
 */
export function sameProcessAlive(pid: number, start?: number): boolean {
  if (!pidAlive(pid)) return false;
  if (start === undefined) return true;
  const now = processStart(pid);
  return now === undefined || now === start;
}
