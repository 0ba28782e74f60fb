/**
 * Claims with leases in a folder that several processes (on several machines) share: a process
 * claims a named piece of work (a job of a sharded run, a shard index, the summary step) and
 * holds it while it renews the lease; a lease whose holder is gone can be taken over.
 *
 * A claim is the file `<name>.<generation>`. The highest generation is the claim in force. It is
 * created only whole and only if absent (`createFileExclusive`: link into place), so of several
 * processes that try the same generation exactly one wins. Taking over an expired claim is
 * creating the next generation, so two processes that both judge generation g expired cannot both
 * take it: one creates g+1, the other finds it there. Only the holder rewrites its own file (the
 * renewal, atomically). A holder that finds a higher generation than its own has lost the claim
 * (it was judged gone) and must not write what the claim protects.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createFileExclusive, removeQuietly, writeJsonAtomic } from './fsx';
import { processStart, sameProcessAlive } from './process';

/**
 * A lease not renewed for this long is expired (a holder on this host is judged at once by its
 * pid). As long as the run store's "stopped answering" bound: a long synchronous computation
 * delays renewals, and taking a job from a live process would train it twice.
 */
export const LEASE_SECONDS = 300;
/** How often holders renew their leases. */
export const RENEW_SECONDS = 10;

/** Who holds a claim. */
export interface LeaseHolder {
  /** A name for the holding process, e.g. `shard-2-<host>-<pid>`. */
  worker: string;
  pid: number;
  processStart?: number;
  host: string;
}

export interface LeaseRecord extends LeaseHolder {
  format: 'aft-lease';
  version: 1;
  name: string;
  generation: number;
  taken: string;
  renewed: string;
  leaseSeconds: number;
  /**
   * The work is done (its files are written): the claim is kept, never renewed and never taken
   * over, so that a process that cannot see those files yet (a shared file system's attribute
   * cache) waits for them instead of doing the work again.
   */
  done?: true;
}

/** This process as a lease holder named `worker`. */
export function thisProcess(worker: string): LeaseHolder {
  const start = processStart(process.pid);
  return { worker, pid: process.pid, ...(start !== undefined ? { processStart: start } : {}), host: os.hostname() };
}

/** Why a claim is no longer in force (its holder is gone), or undefined while it is. */
export function leaseExpired(r: LeaseRecord, now = Date.now()): string | undefined {
  if (r.host === os.hostname() && !sameProcessAlive(r.pid, r.processStart))
    return `its holder ${r.worker} (pid ${r.pid}) ended`;
  const age = (now - Date.parse(r.renewed)) / 1000;
  if (!(age <= r.leaseSeconds))
    return `its lease was last renewed ${Math.round(age)} s ago by ${r.worker} on ${r.host}`;
  return undefined;
}

export type ClaimResult = { ok: true; tookOver?: string } | { ok: false; holder: LeaseRecord };

export class Leases {
  /** The generation of each claim this process holds, by name. */
  private readonly held = new Map<string, number>();

  constructor(
    readonly dir: string,
    readonly holder: LeaseHolder,
    private readonly leaseSeconds = LEASE_SECONDS,
  ) {}

  /** The claim in force for `name`: its highest generation (undefined when none). */
  current(name: string): { generation: number; record?: LeaseRecord } | undefined {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return undefined;
    }
    const prefix = `${name}.`;
    let top = -1;
    for (const n of names) {
      if (!n.startsWith(prefix)) continue;
      const g = n.slice(prefix.length);
      if (/^\d+$/.test(g)) top = Math.max(top, Number(g));
    }
    if (top < 0) return undefined;
    try {
      const record = JSON.parse(fs.readFileSync(this.file(name, top), 'utf8')) as LeaseRecord;
      return { generation: top, record };
    } catch {
      // Removed by its holder meanwhile, or damaged: either way no one holds it.
      return { generation: top };
    }
  }

  /**
   * Claims `name` for this process: a new claim, or the next generation of one whose holder is
   * gone (`tookOver` says whose). Fails, naming the holder, while another process holds it.
   */
  tryClaim(name: string): ClaimResult {
    const mine = this.held.get(name);
    const cur = this.current(name);
    if (mine !== undefined && cur?.generation === mine) return { ok: true };
    let tookOver: string | undefined;
    if (cur?.record) {
      if (cur.record.done) return { ok: false, holder: cur.record };
      const why = leaseExpired(cur.record);
      if (!why) return { ok: false, holder: cur.record };
      tookOver = why;
    }
    const generation = cur ? cur.generation + 1 : 0;
    const now = new Date().toISOString();
    const record: LeaseRecord = {
      format: 'aft-lease',
      version: 1,
      name,
      generation,
      ...this.holder,
      taken: now,
      renewed: now,
      leaseSeconds: this.leaseSeconds,
    };
    if (!createFileExclusive(this.file(name, generation), JSON.stringify(record, null, 2) + '\n')) {
      const winner = this.current(name)?.record;
      return winner ? { ok: false, holder: winner } : this.tryClaim(name);
    }
    this.held.set(name, generation);
    if (cur) for (let g = 0; g < generation; g++) removeQuietly(this.file(name, g));
    return tookOver ? { ok: true, tookOver } : { ok: true };
  }

  /** The generation of `name` this process holds (undefined when it holds none). */
  generationOf(name: string): number | undefined {
    return this.held.get(name);
  }

  /** Whether this process still holds `name` (no one took it over since). */
  holds(name: string): boolean {
    const mine = this.held.get(name);
    return mine !== undefined && this.current(name)?.generation === mine;
  }

  /** Renews every lease this process holds; returns the names it has lost (taken over meanwhile). */
  renewAll(): string[] {
    const lost: string[] = [];
    for (const [name, generation] of this.held) {
      const cur = this.current(name);
      if (cur?.generation !== generation || !cur.record) {
        lost.push(name);
        this.held.delete(name);
        continue;
      }
      writeJsonAtomic(this.file(name, generation), { ...cur.record, renewed: new Date().toISOString() });
    }
    return lost;
  }

  /** Marks `name` done (see `LeaseRecord.done`) once its work's files are written; it is held no more. */
  complete(name: string): void {
    const generation = this.held.get(name);
    if (generation === undefined) return;
    this.held.delete(name);
    const cur = this.current(name);
    if (cur?.generation === generation && cur.record)
      writeJsonAtomic(this.file(name, generation), { ...cur.record, renewed: new Date().toISOString(), done: true });
  }

  /** Gives up `name` (this process stops, or the work needs no claim any more). */
  release(name: string): void {
    const generation = this.held.get(name);
    if (generation === undefined) return;
    this.held.delete(name);
    removeQuietly(this.file(name, generation));
  }

  /** Gives up every claim (a clean exit: others need not wait for the leases to expire). */
  releaseAll(): void {
    for (const name of [...this.held.keys()]) this.release(name);
  }

  private file(name: string, generation: number): string {
    return path.join(this.dir, `${name}.${generation}`);
  }
}
