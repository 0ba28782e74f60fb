/**
 * The summary step of a sharded run, by the one process that claims it once every job is done:
 * the method summaries replayed from the jobs' results (plan.ts), metrics.jsonl as the jobs' rows
 * in plan order, then summary.json and the final status.json, through the run store as a
 * single-process run writes them. A process killed here leaves the claim to be taken over and
 * nothing half-written (every file is atomic); one that fails leaves status.json `running` and
 * sharded, so readers derive the run's state from the workers' records.
 */
import * as fs from 'node:fs';
import type { RunEvent, RunSummary } from '../../../../core/common/protocol/events';
import type { RunStatus } from '../../../../core/common/runs/records';
import { jobMetricsFile, readJobResult, type JobResultRecord } from '../../../../core/node/runs/shardRecords';
import { readRunStatus, readSummary, RunStore } from '../../../../core/node/runs/store';
import type { Leases } from '../../../../core/node/util/leases';
import type { Experiment } from '../../../../core/node/experiment/schema';
import type { Dataset } from '../../data/dataset';
import type { PlannedJob } from '../plan';
import { runSummary, type PreparedSources } from '../prepare';
import { methodSummariesFrom } from './plan';

export interface SummaryContext {
  dir: string;
  /** status.json as the folder was created (its start time is the run's). */
  status: RunStatus;
  exp: Experiment;
  ds: Dataset;
  jobs: PlannedJob[];
  prepared: PreparedSources;
  backendId: string;
  leases: Leases;
  worker: string;
  sink: (e: RunEvent) => void;
  log: (message: string) => void;
}

/** The run's summary: written here, or already written; undefined when another process is writing it. */
export function summaryStep(ctx: SummaryContext): RunSummary | undefined {
  const { dir, jobs } = ctx;
  if (!ctx.leases.tryClaim('summary').ok) {
    ctx.log('every job is done; another process is writing the summary');
    return undefined;
  }
  if (readRunStatus(dir).state === 'completed') return readSummary(dir);
  const runId = ctx.status.runId;
  const store = RunStore.openSharded(dir, ctx.status);
  try {
    const results = (k: number): JobResultRecord => readJobResult(dir, k);
    const methods = methodSummariesFrom(ctx.exp, jobs, ctx.prepared.psi.segments, results, ctx.sink, runId);
    store.writeMetricsWhole(jobs.flatMap((_, k) => metricsLines(dir, k, results(k).generation)));
    const summary = runSummary({
      runId,
      exp: ctx.exp,
      ds: ctx.ds,
      backendId: ctx.backendId,
      prepared: ctx.prepared,
      methods,
      started: new Date(ctx.status.started),
    });
    store.writeSummary(summary);
    store.appendLog(`[info] every one of ${jobs.length} jobs is done: summary written by ${ctx.worker}`);
    store.finish('completed');
    ctx.sink({ type: 'status', runId, state: 'completed', runDir: dir });
    ctx.log(`every job is done: wrote the summary (${dir})`);
    return summary;
  } catch (e) {
    store.close();
    throw e;
  }
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
