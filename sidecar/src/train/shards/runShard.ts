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
  liveWorkers,
  readShardPlan,
  readWorkers,
  SHARD_PLAN_FILE,
  workerFile,
} from '../../../../core/node/runs/shardRecords';
import { checkRunId, createOrJoinShardedRun, planHash, shardedRunId } from '../../../../core/node/runs/shardedRun';
import {
  readRunStatus,
  readSummary,
  RUNS_DIR,
  STOP_REQUEST_FILE,
  writeCheckpointDir,
  writeCheckpointFile,
  writeRhoFile,
  type RunOutputs,
} from '../../../../core/node/runs/store';
import { appendFileAll, removeQuietly } from '../../../../core/node/util/fsx';
import { Leases, thisProcess } from '../../../../core/node/util/leases';
import { extractExperiment } from '../../features/extractExperiment';
import { rhoWeightedProbes } from '../../features/quality';
import { initBackend } from '../../runtime/tf';
import { planJobs } from '../plan';
import { loadRunDataset, prepareSources, withBuiltinStudent } from '../prepare';
import { ProgressTracker } from '../progress';
import { applyOverrides, statusMessage, stopSignal, type ExperimentInput, type RunOptions } from '../run';
import { withJobTrainer } from '../trainAll';
import { trainShare } from './jobLoop';
import { planRecord } from './plan';
import { summaryStep } from './summaryStep';
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
  let exp = applyOverrides(input.experiment, opts);
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
  // A built-in student resolves to this machine's cache folder (the plan's hash is the file's).
  exp = await withBuiltinStudent(exp, {
    runId,
    emit: sink,
    log: early,
    signal: opts.signal ?? new AbortController().signal,
  });
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
  let indexTakenOver: string | undefined;
  if (opts.shard) {
    const c = leases.tryClaim(`shard-${opts.shard.index}`);
    if (c.ok) indexTakenOver = c.tookOver;
    else {
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
  const report = new WorkerReport(dir, first, leases, (names) =>
    log(`claims taken over by another process (this one was judged gone): ${names.join(', ')}`, 'warn'),
  );
  const stop = stopSignal(dir, opts.signal);
  const signal = stop.signal;
  /** The job in training and the generation of its claim: where its metrics rows go. */
  let metricsTarget: { index: number; generation: number } | undefined;
  const emit = (e: RunEvent): void => {
    try {
      if (e.type === 'metrics' && metricsTarget !== undefined) {
        const { type: _t, runId: _r, ...row } = e;
        appendFileAll(jobMetricsFile(dir, metricsTarget.index, metricsTarget.generation), JSON.stringify(row) + '\n');
      } else if (e.type === 'progress' && e.jobs > 0) report.eta(e.etaSeconds);
      else if (e.type === 'log') {
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
  if (indexTakenOver) log(`shard ${opts.shard?.index}/${opts.shard?.count}: index taken over (${indexTakenOver})`);
  log(
    `${created ? 'created' : 'joined'} ${opts.shard ? `as shard ${opts.shard.index}/${opts.shard.count}` : 'to complete whatever is left'} (${worker}): ${dir}`,
  );
  try {
    // Features first as `aft extract --shard i/n` extracts them: this shard's chunks of each
    // source, so that n shards starting together do not each extract every chunk; building the
    // sources below extracts whatever the others have not finished yet, and merges.
    if (opts.shard && opts.shard.count > 1 && exp.pretrained.some((s) => 'onnx' in s || 'builtin' in s))
      await extractExperiment(exp, input.baseDir, {
        workspaceDir: opts.workspaceDir,
        shard: opts.shard,
        signal,
        id: runId,
        sink: emit,
      });
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
    const trained = await withJobTrainer(o, jobs, (trainer) =>
      trainShare({
        dir,
        exp,
        jobs,
        plan,
        mine,
        leases,
        report,
        trainer,
        progress,
        worker,
        signal,
        log,
        setMetricsTarget: (t) => (metricsTarget = t),
      }),
    );
    const done = doneJobs(dir).size;
    const summary =
      done === jobs.length
        ? summaryStep({ dir, status, exp, ds, jobs, prepared, backendId: backend.id, leases, worker, sink, log })
        : undefined;
    if (done < jobs.length)
      log(
        `${opts.shard ? `shard ${opts.shard.index}/${opts.shard.count}` : 'this process'}: its jobs are done (${trained} trained here); ${done} of ${jobs.length} jobs of the run are done, and the shard that finishes the last one writes the summary`,
      );
    report.end('completed');
    leases.releaseAll();
    return { runId, dir, ...(summary ? { summary } : {}), trained, done: doneJobs(dir).size, jobs: jobs.length };
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
