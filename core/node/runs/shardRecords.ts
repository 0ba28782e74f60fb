/**
 * The files of a sharded run folder (docs/sharding.md) besides an ordinary run's, and what a
 * reader makes of them. Every file has one writer: shard.json is written once with the folder;
 * a job's result and metrics by the process holding that job's claim; a worker record and log
 * by its process. status.json is written only when the folder is created and by the process
 * holding the summary claim, so while the run is `running` its state and progress are derived
 * here from the workers' records and the jobs done.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunState } from '../../common/protocol/events';
import type { RunStatus } from '../../common/runs/records';
import { readUserJson } from '../io/userFile';
import { badInput } from '../../common/util/errors';
import { deadReason } from './liveness';

export const SHARD_PLAN_FILE = 'shard.json';
export const CLAIMS_DIR = 'claims';
export const JOBS_DIR = 'jobs';
export const WORKERS_DIR = 'workers';

/** A job of the plan as shard.json records it. */
export interface PlanJobRecord {
  index: number;
  method: string;
  seed: number;
  phase: 'tune' | 'final';
  /** Set for tune jobs and one-value grids; else chosen by the tune jobs in `needs`. */
  beta?: number;
  steps: number;
  /** The tune jobs whose results choose this job's β (they must be done first). */
  needs: number[];
}

/** shard.json: what every shard must agree on. */
export interface ShardPlanRecord {
  format: 'aft-shard-plan';
  version: 1;
  runId: string;
  /** sha256 of the resolved experiment with the options applied (the backend left out). */
  hash: string;
  /** How many shards the plan is split into (`--shard i/n`'s n). */
  count: number;
  jobs: PlanJobRecord[];
  created: string;
}

/** jobs/<index>.json: a job's result, written once by the process that trained it. */
export interface JobResultRecord {
  format: 'aft-shard-job';
  version: 1;
  index: number;
  method: string;
  seed: number;
  phase: 'tune' | 'final';
  beta: number;
  /** Holdout accuracy (tune) or test accuracy (final). */
  evalAccuracy: number;
  seconds: number;
  rho?: number[];
  rhoProbe?: { bySource: Record<string, number>; concat?: number };
  /** The generation of the claim it was trained under: its metrics are `jobMetricsFile(…, generation)`. */
  generation: number;
  worker: string;
  finished: string;
}

/** workers/<worker>.json: one process's part in the run, written by it alone. */
export interface WorkerRecord {
  format: 'aft-shard-worker';
  version: 1;
  worker: string;
  /** The shard index it runs; null for a plain `aft run` completing whatever is left. */
  shard: number | null;
  pid: number;
  processStart?: number;
  host: string;
  started: string;
  updated: string;
  heartbeatSeconds: number;
  state: RunState;
  message?: string;
  /** The job it trains now and how far it is, for the run's progress. */
  job?: { index: number; step: number; steps: number; label: string };
  etaSeconds?: number | null;
  /** Jobs it trained to the end. */
  jobsDone: number;
}

export const jobResultFile = (dir: string, index: number): string => path.join(dir, JOBS_DIR, `${index}.json`);
/**
 * Job `index`'s metrics rows as the holder of `generation` of its claim writes them: a process
 * that takes a job over writes a file of its own, so a reader tailing the old one never reads
 * the new one's bytes as its continuation.
 */
export const jobMetricsFile = (dir: string, index: number, generation: number): string =>
  path.join(dir, JOBS_DIR, `${index}.g${generation}.metrics.jsonl`);

/** A job metrics file's name: its job and its claim's generation. */
export function parseJobMetricsName(name: string): { index: number; generation: number } | undefined {
  const m = /^(\d+)\.g(\d+)\.metrics\.jsonl$/.exec(name);
  return m ? { index: Number(m[1]), generation: Number(m[2]) } : undefined;
}
export const workerFile = (dir: string, worker: string): string => path.join(dir, WORKERS_DIR, `${worker}.json`);
export const workerLogFile = (dir: string, worker: string): string => path.join(dir, WORKERS_DIR, `${worker}.log`);

const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** shard.json, checked; a bad-input error naming it when it is not a plan. */
export function readShardPlan(dir: string): ShardPlanRecord {
  const file = path.join(dir, SHARD_PLAN_FILE);
  const raw = readUserJson(file, { what: SHARD_PLAN_FILE, maxBytes: MAX_RECORD_BYTES }) as Partial<ShardPlanRecord>;
  if (raw?.format !== 'aft-shard-plan' || typeof raw.hash !== 'string' || !Array.isArray(raw.jobs))
    throw badInput(`${SHARD_PLAN_FILE} is damaged: expected an aft-shard-plan record with a hash and jobs`, { file });
  return raw as ShardPlanRecord;
}

/** The indices of the jobs whose result is in place. */
export function doneJobs(dir: string): Set<number> {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, JOBS_DIR));
  } catch {
    return new Set();
  }
  return new Set(names.flatMap((n) => (/^\d+\.json$/.test(n) ? [Number(n.slice(0, -5))] : [])));
}

/** A job's result; a bad-input error naming the file when it is damaged. */
export function readJobResult(dir: string, index: number): JobResultRecord {
  const file = jobResultFile(dir, index);
  const raw = readUserJson(file, { what: 'a job result', maxBytes: MAX_RECORD_BYTES }) as Partial<JobResultRecord>;
  if (raw?.format !== 'aft-shard-job' || raw.index !== index || typeof raw.evalAccuracy !== 'number')
    throw badInput(`job result ${index} is damaged: expected an aft-shard-job record for job ${index}`, { file });
  return raw as JobResultRecord;
}

/** Every worker record that can be read (one being replaced or damaged is skipped: it is not a live worker's). */
export function readWorkers(dir: string): WorkerRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, WORKERS_DIR));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    if (!n.endsWith('.json')) return [];
    try {
      const r = JSON.parse(fs.readFileSync(path.join(dir, WORKERS_DIR, n), 'utf8')) as WorkerRecord;
      return r.format === 'aft-shard-worker' ? [r] : [];
    } catch {
      return [];
    }
  });
}

/** The live workers: `running` and believed by the liveness rule. */
export function liveWorkers(workers: WorkerRecord[], now = Date.now()): WorkerRecord[] {
  return workers.filter((w) => w.state === 'running' && !deadReason(w, now));
}

/**
 * A `running` sharded run as readers must see it: running (with the whole run's progress) while
 * a shard trains it; otherwise failed or cancelled, saying how many jobs are done and how to
 * finish it, never `running` for a run no process trains.
 */
export function shardedStatus(dir: string, s: RunStatus, now = Date.now()): RunStatus {
  let plan: ShardPlanRecord;
  try {
    plan = readShardPlan(dir);
  } catch (e) {
    return { ...s, state: 'failed', message: (e as Error).message };
  }
  const done = doneJobs(dir);
  const workers = readWorkers(dir);
  const live = liveWorkers(workers, now);
  const total = plan.jobs.reduce((a, j) => a + j.steps, 0);
  const doneSteps = plan.jobs.reduce((a, j) => a + (done.has(j.index) ? j.steps : 0), 0);
  const inFlight = live.reduce((a, w) => a + (w.job && !done.has(w.job.index) ? w.job.step : 0), 0);
  const counts = `${done.size} of ${plan.jobs.length} jobs done`;
  if (live.length) {
    const etas = live.map((w) => w.etaSeconds).filter((e): e is number => typeof e === 'number');
    const latest = live.reduce((a, w) => (w.updated > a.updated ? w : a));
    return {
      ...s,
      updated: latest.updated,
      progress: {
        fraction: total ? Math.min(1, (doneSteps + inFlight) / total) : 0,
        label: `${counts}, ${live.length} shard${live.length === 1 ? '' : 's'} training${latest.job ? ` (${latest.job.label})` : ''}`,
        etaSeconds: etas.length ? Math.max(...etas) : null,
      },
    };
  }
  const last = workers.reduce<WorkerRecord | undefined>((a, w) => (!a || w.updated > a.updated ? w : a), undefined);
  const state: RunState = last?.state === 'cancelled' ? 'cancelled' : 'failed';
  const why = last?.message ? `; last: ${last.worker}: ${last.message}` : '';
  return {
    ...s,
    state,
    message: `no shard is training it: ${counts}${why}. Run the missing shards, or \`aft run\` on its experiment file without --shard to complete it`,
    progress: { fraction: total ? doneSteps / total : 0, label: counts, etaSeconds: null },
  };
}
