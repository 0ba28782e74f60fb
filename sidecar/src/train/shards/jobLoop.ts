/**
 * A shard's share of the jobs, each trained only under its claim: a job whose result is in place
 * is done; one no live process holds is claimed (or taken over from a process that is gone) and
 * trained here; one held by a live process is waited for. A reported job whose β is tuned needs
 * its tune jobs first, and takes any of them that nobody holds, so shards never wait in a circle.
 */
import * as fs from 'node:fs';
import { CancelledError } from '../../../../core/common/util/errors';
import {
  jobMetricsFile,
  jobResultFile,
  readJobResult,
  type JobResultRecord,
  type ShardPlanRecord,
} from '../../../../core/node/runs/shardRecords';
import { removeQuietly, writeJsonAtomic } from '../../../../core/node/util/fsx';
import type { Leases } from '../../../../core/node/util/leases';
import type { Experiment } from '../../../../core/node/experiment/schema';
import { sleep } from '../../util/async';
import type { PlannedJob } from '../plan';
import type { ProgressTracker } from '../progress';
import { jobLabel, type JobOutcome, type JobTrainer } from '../trainAll';
import { chooserFrom } from './plan';
import type { WorkerReport } from './workerReport';

export interface ShareContext {
  dir: string;
  exp: Experiment;
  jobs: PlannedJob[];
  plan: ShardPlanRecord;
  /** This process's jobs (plan indices), in order. */
  mine: number[];
  leases: Leases;
  report: WorkerReport;
  trainer: JobTrainer;
  /** Progress over `mine` (the CLI's bar). */
  progress: ProgressTracker;
  worker: string;
  signal: AbortSignal;
  log: (message: string, level?: 'info' | 'warn') => void;
  /** Where the metrics rows of the job in training go (undefined between jobs). */
  setMetricsTarget: (target: { index: number; generation: number } | undefined) => void;
}

/** Trains (or waits for) every job of `ctx.mine`; returns how many this process trained. */
export async function trainShare(ctx: ShareContext): Promise<number> {
  const { dir, jobs, leases, log } = ctx;
  const results = new Map<number, JobResultRecord>();
  const resultOf = (k: number): JobResultRecord | undefined => {
    if (!results.has(k) && fs.existsSync(jobResultFile(dir, k))) results.set(k, readJobResult(dir, k));
    return results.get(k);
  };
  let trained = 0;

  /** Trains job `k`, whose claim this process holds; `pos` is its place in `mine` (undefined: another shard's job it needs). */
  const train = async (k: number, pos: number | undefined): Promise<void> => {
    const job = jobs[k];
    const beta = chooserFrom(ctx.exp, jobs, resultOf).betaFor(job);
    const label = jobLabel(job, beta);
    log(
      `job ${k + 1}/${jobs.length}: ${label}${pos === undefined ? ' (needed for a β, not claimed by its shard)' : ''}`,
    );
    const name = `job-${k}`;
    const generation = leases.generationOf(name) ?? 0;
    // The rows of a process that was killed training it: nothing reads an older generation's file.
    for (let g = 0; g < generation; g++) removeQuietly(jobMetricsFile(dir, k, g));
    ctx.setMetricsTarget({ index: k, generation });
    const tracked = pos !== undefined ? ctx.progress.onStep(pos, label) : undefined;
    let outcome: JobOutcome;
    try {
      outcome = await ctx.trainer.run(job, beta, (step, total) => {
        tracked?.(step, total);
        ctx.report.progress({ index: k, step, steps: total, label });
      });
    } finally {
      ctx.setMetricsTarget(undefined);
    }
    if (!leases.holds(name)) {
      log(`job ${k + 1} was taken over by another process while this one trained it; its result is not kept`, 'warn');
      return;
    }
    writeJsonAtomic(jobResultFile(dir, k), resultRecord(k, job, beta, outcome, generation, ctx.worker));
    leases.complete(name);
    ctx.report.jobDone();
    trained++;
  };

  /** Job `k` done: by this process if it can claim it, else by whichever process holds it. */
  const ensureDone = async (k: number, pos: number | undefined): Promise<void> => {
    for (const d of ctx.plan.jobs[k].needs) {
      const at = ctx.mine.indexOf(d);
      await ensureDone(d, at >= 0 ? at : undefined);
    }
    // Jobs take from milliseconds (a tiny MLP) to hours: the wait for one held by another process
    // starts short and backs off to a second.
    let waitMs = 0;
    for (;;) {
      if (ctx.signal.aborted) throw new CancelledError();
      if (resultOf(k)) {
        if (pos !== undefined) ctx.progress.jobDone(pos);
        return;
      }
      const c = leases.tryClaim(`job-${k}`);
      if (c.ok) {
        if (c.tookOver) log(`job ${k + 1}: taken over (${c.tookOver})`);
        if (resultOf(k)) leases.complete(`job-${k}`);
        else await train(k, pos);
        continue;
      }
      if (!waitMs)
        log(
          c.holder.done
            ? `job ${k + 1}/${jobs.length} was trained by ${c.holder.worker}; waiting for its result to be visible here`
            : `job ${k + 1}/${jobs.length} is being trained by ${c.holder.worker}; waiting for it`,
        );
      waitMs = Math.min(1000, Math.max(20, waitMs * 2));
      await sleep(waitMs);
    }
  };

  for (const [pos, k] of ctx.mine.entries()) await ensureDone(k, pos);
  return trained;
}

function resultRecord(
  index: number,
  job: PlannedJob,
  beta: number,
  outcome: JobOutcome,
  generation: number,
  worker: string,
): JobResultRecord {
  return {
    format: 'aft-shard-job',
    version: 1,
    index,
    method: job.method.name,
    seed: job.seed,
    phase: job.phase,
    beta,
    evalAccuracy: outcome.evalAccuracy,
    seconds: outcome.seconds,
    ...(outcome.rho ? { rho: Array.from(outcome.rho) } : {}),
    ...(outcome.rhoProbe ? { rhoProbe: outcome.rhoProbe } : {}),
    generation,
    worker,
    finished: new Date().toISOString(),
  };
}
