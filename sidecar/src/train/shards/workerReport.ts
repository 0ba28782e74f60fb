/**
 * One process's records in a sharded run folder: its worker record (workers/<worker>.json: state,
 * heartbeat, the job it trains and how far) and its log (workers/<worker>.log), both written by
 * it alone. A timer refreshes the record and renews the process's leases every RENEW_SECONDS;
 * a lease found taken over (this process was judged gone) is reported through `onLost`.
 */
import * as os from 'node:os';
import type { RunState } from '../../../../core/common/protocol/events';
import { HEARTBEAT_SECONDS } from '../../../../core/node/runs/store';
import { workerFile, workerLogFile, type WorkerRecord } from '../../../../core/node/runs/shardRecords';
import { appendFileAll, writeJsonAtomic } from '../../../../core/node/util/fsx';
import { RENEW_SECONDS, type Leases } from '../../../../core/node/util/leases';

/** The record a process starts with (written into a new run folder before it appears, or on joining). */
export function firstWorkerRecord(worker: string, shard: number | null, leases: Leases): WorkerRecord {
  const now = new Date().toISOString();
  const { pid, processStart, host } = leases.holder;
  return {
    format: 'aft-shard-worker',
    version: 1,
    worker,
    shard,
    pid,
    ...(processStart !== undefined ? { processStart } : {}),
    host,
    started: now,
    updated: now,
    heartbeatSeconds: HEARTBEAT_SECONDS,
    state: 'running',
    jobsDone: 0,
  };
}

export class WorkerReport {
  private lastWrite = 0;
  private readonly timer: NodeJS.Timeout;
  /** The first write that failed in the timer: thrown at the next write of the loop. */
  private failure: Error | undefined;

  constructor(
    private readonly dir: string,
    private record: WorkerRecord,
    private readonly leases: Leases,
    private readonly onLost: (names: string[]) => void,
  ) {
    this.write();
    this.timer = setInterval(() => this.beat(), Math.min(RENEW_SECONDS, HEARTBEAT_SECONDS) * 1000);
    this.timer.unref();
  }

  /** How far the job in training is (written at most once a second). */
  progress(job: NonNullable<WorkerRecord['job']>): void {
    this.record = { ...this.record, job };
    if (Date.now() - this.lastWrite >= 1000) this.write();
  }

  /** The time this process's share still needs (its progress events' ETA), written with the next record. */
  eta(seconds: number | null): void {
    this.record = { ...this.record, etaSeconds: seconds };
  }

  jobDone(): void {
    const { job: _job, ...rest } = this.record;
    this.record = { ...rest, jobsDone: this.record.jobsDone + 1 };
    this.write();
  }

  /** Its final state; the timer stops. */
  end(state: Exclude<RunState, 'running'>, message?: string): void {
    clearInterval(this.timer);
    const { job: _job, etaSeconds: _eta, ...rest } = this.record;
    this.record = { ...rest, state, ...(message !== undefined ? { message } : {}) };
    this.write();
  }

  log(line: string): void {
    appendFileAll(workerLogFile(this.dir, this.record.worker), `${new Date().toISOString()} ${line}\n`);
  }

  private write(): void {
    if (this.failure) throw this.failure;
    this.lastWrite = Date.now();
    this.record = { ...this.record, updated: new Date(this.lastWrite).toISOString() };
    writeJsonAtomic(workerFile(this.dir, this.record.worker), this.record);
  }

  private beat(): void {
    try {
      const lost = this.leases.renewAll();
      if (lost.length) this.onLost(lost);
      if (Date.now() - this.lastWrite >= (HEARTBEAT_SECONDS * 1000) / 2) this.write();
    } catch (e) {
      this.failure ??= e as Error;
    }
  }
}

/** The name of a process in a run folder: its shard (or `rest`, a plain run completing it), host and pid. */
export function workerName(shard: number | null): string {
  const host = os
    .hostname()
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 40);
  return `${shard === null ? 'rest' : `shard-${shard}`}-${host}-${process.pid}`;
}
