/**
 * A sharded run (docs/sharding.md): `aft run FILE --shard i/n` trains every n-th job of the plan
 * into one run folder that n processes share; a plain `aft run FILE` on a partly done sharded run
 * completes whatever is left. Each job is claimed with a lease (core/node/util/leases.ts) before
 * it is trained, and its result, metrics and files are written by that process alone; the
 * process that finds every job done claims the summary step and writes metrics.jsonl, the
 * summary and the final status exactly as a single-process run does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent, RunSummary } from '../../../../core/common/protocol/events';
import type { Shard } from '../../../../core/common/protocol/rpc';
import { BusyError, CancelledError, describeError } from '../../../../core/common/util/errors';
import { resolvePaths } from '../../../../core/node/experiment/semantics';
import {
  CLAIMS_DIR,
  doneJobs,
  jobMetricsFile,
  jobResultFile,
  liveWorkers,
  readJobResult,
  readShardPlan,
  readWorkers,
  SHARD_PLAN_FILE,
  workerFile,
  type JobResultRecord,
} from '../../../../core/node/runs/shardRecords';
import { checkRunId, createOrJoinShardedRun, planHash, shardedRunId } from '../../../../core/node/runs/shardedRun';
import {
  readRunStatus,
  readSummary,
  RUNS_DIR,
  RunStore,
  STOP_REQUEST_FILE,
  writeCheckpointDir,
  writeCheckpointFile,
  writeRhoFile,
  type RunOutputs,
} from '../../../../core/node/runs/store';
import { appendFileAll, removeQuietly, writeJsonAtomic } from '../../../../core/node/util/fsx';
import { Leases, thisProcess } from '../../../../core/node/util/leases';
import { rhoWeightedProbes } from '../../features/quality';
import { initBackend } from '../../runtime/tf';
import { sleep } from '../../util/async';
import { planJobs, type PlannedJob } from '../plan';
import { loadRunDataset, prepareSources, runSummary } from '../prepare';
import { ProgressTracker } from '../progress';
import { applyOverrides, statusMessage, stopSignal, type ExperimentInput, type RunOptions } from '../run';
import { jobLabel, withJobTrainer, type JobTrainer } from '../trainAll';
import { chooserFrom, methodSummariesFrom, planRecord } from './plan';
import { firstWorkerRecord, workerName, WorkerReport } from './workerReport';

export interface ShardOptions extends RunOptions {
  /** This process's shard; undefined: a plain run completing whatever is left. */
  shard?: Shard;
  /** The run folder's name (default: the experiment's name and the plan's hash). */
  runId?: string;
}

export interface ShardOutcome {
  runId: string;
  dir: string;
  /** The run's summary once every job is done (written by this process or another). */
  summary?: RunSummary;
  /** Jobs this process trained, and the run's jobs done and planned when it ended. */
  trained: number;
  done: number;
  jobs: number;
}

/**
 * The run folder of an unfinished sharded run of this experiment and options, which a plain
 * `aft run` completes instead of starting a new run; undefined when there is none.
 */
export function unfinishedShardedRun(input: ExperimentInput, opts: ShardOptions): string | undefined {
  const exp = applyOverrides(input.experiment, opts);
  const hash = planHash(resolvePaths(exp, input.baseDir));
  const id = opts.runId ?? shardedRunId(exp.name);
  const dir = path.join(opts.place?.root ?? path.join(opts.workspaceDir, RUNS_DIR), id);
  if (!fs.existsSync(path.join(dir, SHARD_PLAN_FILE))) return undefined;
  try {
    return readShardPlan(dir).hash === hash && readRunStatus(dir).state !== 'completed' ? id : undefined;
  } catch {
    return undefined;
  }
}

export async function runShard(input: ExperimentInput, opts: ShardOptions): Promise<ShardOutcome> {
  const exp = applyOverrides(input.experiment, opts);
  const resolved = resolvePaths(exp, input.baseDir);
  const hash = planHash(resolved);
  const runId = opts.runId !== undefined ? checkRunId(opts.runId) : shardedRunId(exp.name);
  const shardIndex = opts.shard?.index ?? null;
  const worker = workerName(shardIndex);
  const sink = opts.sink ?? (() => undefined);
  const early = (message: string): void => sink({ type: 'log', runId, level: 'info', message, timestamp: Date.now() });
  // The plan needs the training set's size; the dataset is loaded before the folder is joined,
  // so a shard of another plan is refused before anything is written.
  const backend = await initBackend(exp.backend, early);
  const ds = await loadRunDataset(exp, input.baseDir, early);
  const jobs = planJobs(exp, ds.train.n);
  const plan = planRecord(runId, hash, opts.shard?.count ?? 1, jobs, exp);
  const root = opts.place?.root ?? path.join(opts.workspaceDir, RUNS_DIR);
  const dirOf = path.join(root, runId);
  const leases = new Leases(path.join(dirOf, CLAIMS_DIR), thisProcess(worker));
  const first = firstWorkerRecord(worker, shardIndex, leases);
  const { dir, created, status } = createOrJoinShardedRun({
    workspaceDir: opts.workspaceDir,
    root,
    runId,
    experimentName: exp.name,
    resolvedExperiment: resolved,
    sourceText: input.sourceText,
    plan,
    checkCount: opts.shard !== undefined,
    firstWorker: { file: workerFile(dirOf, worker), record: first },
  });
  if (opts.shard) {
    const c = leases.tryClaim(`shard-${opts.shard.index}`);
    if (!c.ok) {
      if (created) removeQuietly(workerFile(dir, worker));
      throw new BusyError(
        `shard ${opts.shard.index}/${opts.shard.count} of ${runId} is already running (${c.holder.worker}, pid ${c.holder.pid} on ${c.holder.host}, since ${c.holder.taken}): each index runs in one process at a time. Give each process its own index (Slurm: $SLURM_ARRAY_TASK_ID, Kubernetes: $JOB_COMPLETION_INDEX), or wait for that one to end`,
      );
    }
  }
  if (readRunStatus(dir).state === 'completed') {
    leases.releaseAll();
    early(`${runId} is already complete: ${dir}`);
    return { runId, dir, summary: readSummary(dir), trained: 0, done: jobs.length, jobs: jobs.length };
  }
  // A stop asked of the run before: it was for the processes then (none trains it now).
  if (!liveWorkers(readWorkers(dir)).some((w) => w.worker !== worker)) removeQuietly(path.join(dir, STOP_REQUEST_FILE));
  let lost = new Set<string>();
  const report = new WorkerReport(dir, first, leases, (n) => {
    lost = new Set([...lost, ...n]);
  });
  const stop = stopSignal(dir, opts.signal);
  const signal = stop.signal;
  /** The job in training and the generation of its claim: where its metrics rows go. */
  let current: { index: number; generation: number } | undefined;
  const emit = (e: RunEvent): void => {
    try {
      if (e.type === 'metrics' && current !== undefined) {
        const { type: _t, runId: _r, ...row } = e;
        appendFileAll(jobMetricsFile(dir, current.index, current.generation), JSON.stringify(row) + '\n');
      } else if (e.type === 'log') {
        try {
          report.log(`[${e.level}] ${e.message}`);
        } catch {
          // the next record write reports a disk that fails
        }
      }
    } finally {
      sink(e);
    }
  };
  const log = (message: string, level: 'info' | 'warn' | 'debug' | 'error' = 'info'): void =>
    emit({ type: 'log', runId, level, message, timestamp: Date.now() });
  emit({ type: 'status', runId, state: 'running', runDir: dir });
  log(
    `${created ? 'created' : 'joined'} ${opts.shard ? `as shard ${opts.shard.index}/${opts.shard.count}` : 'to complete whatever is left'} (${worker}): ${dir}`,
  );
  let trained = 0;
  try {
    const prepared = await prepareSources(exp, ds, input.baseDir, {
      runId,
      workspaceDir: opts.workspaceDir,
      emit,
      log,
      signal,
    });
    const { sources, psi } = prepared;
    const outputs: RunOutputs = {
      runId,
      writeRho: (m, s, seg, v, step) => writeRhoFile(dir, m, s, seg, v, step),
      writeCheckpoint: (m, s, w, meta) => writeCheckpointFile(dir, m, s, w, meta),
      writeCheckpointFolder: (m, s, files) => writeCheckpointDir(dir, m, s, files),
    };
    const o = {
      exp,
      ds,
      psi,
      baseDir: input.baseDir,
      store: outputs,
      emit,
      log,
      signal,
      ...(psi.width ? { probeRho: rhoWeightedProbes(sources.blocks, psi, ds, log) } : {}),
    };
    const mine = jobs.flatMap((_, k) => (!opts.shard || k % opts.shard.count === opts.shard.index ? [k] : []));
    const progress = new ProgressTracker(
      runId,
      mine.map((k) => jobs[k]),
      emit,
    );
    await withJobTrainer(o, jobs, async (trainer) => {
      const results = new Map<number, JobResultRecord>();
      const resultOf = (k: number): JobResultRecord | undefined => {
        if (!results.has(k) && fs.existsSync(jobResultFile(dir, k))) results.set(k, readJobResult(dir, k));
        return results.get(k);
      };
      /** Trains job `k` once this process holds its claim. */
      const train = async (k: number, pos: number | undefined): Promise<void> => {
        const job = jobs[k];
        const beta = chooserFrom(exp, jobs, resultOf).betaFor(job);
        const label = jobLabel(job, beta);
        log(
          `job ${k + 1}/${jobs.length}: ${label}${pos === undefined ? ' (needed for a β, not claimed by its shard)' : ''}`,
        );
        const generation = leases.generationOf(`job-${k}`) ?? 0;
        // Rows of a process that was killed training it stay in its own file, which nothing reads again.
        for (let g = 0; g < generation; g++) removeQuietly(jobMetricsFile(dir, k, g));
        current = { index: k, generation };
        const tracked = pos !== undefined ? progress.onStep(pos, label) : undefined;
        const outcome = await trainer.run(job, beta, (step, total) => {
          tracked?.(step, total);
          report.progress({ index: k, step, steps: total, label }, null);
        });
        current = undefined;
        if (lost.has(`job-${k}`) || !leases.holds(`job-${k}`)) {
          log(
            `job ${k + 1} was taken over by another process while this one trained it; its result is not kept`,
            'warn',
          );
          return;
        }
        writeJsonAtomic(jobResultFile(dir, k), resultRecord(k, job, beta, outcome, generation, worker));
        leases.release(`job-${k}`);
        report.jobDone();
        trained++;
      };
      /** Job `k` done: by this process if it can claim it, else by whichever process holds it. */
      const ensureDone = async (k: number, pos: number | undefined): Promise<void> => {
        for (const d of plan.jobs[k].needs) await ensureDone(d, mine.indexOf(d) >= 0 ? mine.indexOf(d) : undefined);
        let waiting = false;
        for (;;) {
          if (signal.aborted) throw new CancelledError();
          if (resultOf(k)) {
            if (pos !== undefined) progress.jobDone(pos);
            return;
          }
          const c = leases.tryClaim(`job-${k}`);
          if (c.ok) {
            if (c.tookOver) log(`job ${k + 1}: taken over (${c.tookOver})`);
            if (resultOf(k)) leases.release(`job-${k}`);
            else await train(k, pos);
            continue;
          }
          if (!waiting) log(`job ${k + 1}/${jobs.length} is being trained by ${c.holder.worker}; waiting for it`);
          waiting = true;
          await sleep(1000);
        }
      };
      for (const [pos, k] of mine.entries()) await ensureDone(k, pos);
    });
    const done = doneJobs(dir).size;
    let summary: RunSummary | undefined;
    if (done === jobs.length) summary = finish();
    else
      log(
        `${opts.shard ? `shard ${opts.shard.index}/${opts.shard.count}` : 'this process'}: its jobs are done (${trained} trained here); ${done} of ${jobs.length} jobs of the run are done, and the shard that finishes the last one writes the summary`,
      );
    report.end('completed');
    leases.releaseAll();
    return { runId, dir, ...(summary ? { summary } : {}), trained, done: doneJobs(dir).size, jobs: jobs.length };

    /** The summary step, by the one process that claims it. */
    function finish(): RunSummary | undefined {
      if (!leases.tryClaim('summary').ok) {
        log('every job is done; another process is writing the summary');
        return undefined;
      }
      if (readRunStatus(dir).state === 'completed') return readSummary(dir);
      const store = RunStore.openSharded(dir, status);
      try {
        const results = (k: number): JobResultRecord => readJobResult(dir, k);
        const methods = methodSummariesFrom(exp, jobs, psi.segments, results, sink, runId);
        store.writeMetricsWhole(jobs.flatMap((_, k) => metricsLines(dir, k, results(k).generation)));
        const summary = runSummary({
          runId,
          exp,
          ds,
          backendId: backend.id,
          prepared,
          methods,
          started: new Date(status.started),
        });
        store.writeSummary(summary);
        store.finish('completed');
        sink({ type: 'status', runId, state: 'completed', runDir: dir });
        log(`every job is done: wrote the summary (${dir})`);
        return summary;
      } catch (e) {
        // status.json stays `running` and sharded, so readers derive the run's state (this
        // worker's record says failed, and why) and a later `aft run` can write the summary.
        store.close();
        throw e;
      }
    }
  } catch (e) {
    const cancelled = e instanceof CancelledError;
    const message = cancelled ? 'cancelled by the user' : statusMessage(e);
    if (!cancelled) {
      try {
        report.log(`[error] ${describeError(e)}`);
      } catch {
        // the disk that failed: the status event still says it
      }
    }
    try {
      report.end(cancelled ? 'cancelled' : 'failed', message);
    } catch {
      // as above
    }
    leases.releaseAll();
    sink({ type: 'status', runId, state: cancelled ? 'cancelled' : 'failed', runDir: dir, message });
    throw e;
  } finally {
    stop.dispose();
  }
}

function resultRecord(
  index: number,
  job: PlannedJob,
  beta: number,
  outcome: Awaited<ReturnType<JobTrainer['run']>>,
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

/** Job `k`'s metrics rows as the process that trained it to its end wrote them, whole lines. */
function metricsLines(dir: string, k: number, generation: number): string[] {
  let text: string;
  try {
    text = fs.readFileSync(jobMetricsFile(dir, k, generation), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.length)
    .map((l) => l + '\n');
}
