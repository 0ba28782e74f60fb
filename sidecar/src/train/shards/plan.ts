/**
 * A run's plan as shards share it (shard.json) and its results as the summary step replays them:
 * which tune jobs choose each final job's β, and each method's summary rebuilt from the jobs'
 * result files by the same BetaChooser and MethodSummaries a single-process run uses, in plan
 * order, so that the numbers are the same.
 */
import type { Experiment } from '../../../../core/node/experiment/schema';
import type { MethodSummary, RunEvent } from '../../../../core/common/protocol/events';
import type { Segment } from '../../../../core/common/protocol/events';
import type { JobResultRecord, PlanJobRecord, ShardPlanRecord } from '../../../../core/node/runs/shardRecords';
import { BetaChooser } from '../betaChooser';
import { MethodSummaries } from '../methodSummaries';
import type { PlannedJob } from '../plan';
import type { JobOutcome } from '../trainAll';

/** The tune jobs whose holdout results choose job `k`'s β (none when its β is given). */
function needs(jobs: PlannedJob[], k: number, exp: Pick<Experiment, 'seeds' | 'tune'>): number[] {
  const job = jobs[k];
  if (job.phase !== 'final' || job.beta !== undefined) return [];
  const tunedOn = exp.tune.seeds === 'all' ? job.seed : exp.seeds[0];
  return jobs.flatMap((j, i) =>
    j.phase === 'tune' && j.method.name === job.method.name && j.seed === tunedOn ? [i] : [],
  );
}

/** shard.json for a plan split into `count` shards. */
export function planRecord(
  runId: string,
  hash: string,
  count: number,
  jobs: PlannedJob[],
  exp: Pick<Experiment, 'seeds' | 'tune'>,
): ShardPlanRecord {
  return {
    format: 'aft-shard-plan',
    version: 1,
    runId,
    hash,
    count,
    jobs: jobs.map((j, index): PlanJobRecord => ({
      index,
      method: j.method.name,
      seed: j.seed,
      phase: j.phase,
      ...(j.beta !== undefined ? { beta: j.beta } : {}),
      steps: j.steps,
      needs: needs(jobs, index, exp),
    })),
    created: new Date().toISOString(),
  };
}

/** The β chooser as the tune results in `results` (by job index) make it, in plan order. */
export function chooserFrom(
  exp: Pick<Experiment, 'beta' | 'seeds' | 'tune'>,
  jobs: PlannedJob[],
  results: (k: number) => JobResultRecord | undefined,
): BetaChooser {
  const betas = new BetaChooser(exp);
  jobs.forEach((job, k) => {
    const r = job.phase === 'tune' ? results(k) : undefined;
    if (r) betas.record(job, r.beta, r.evalAccuracy);
  });
  return betas;
}

/** A final job's outcome as its result file keeps it. */
export function outcomeOf(r: JobResultRecord): JobOutcome {
  return {
    evalAccuracy: r.evalAccuracy,
    seconds: r.seconds,
    ...(r.rho ? { rho: Float32Array.from(r.rho) } : {}),
    ...(r.rhoProbe ? { rhoProbe: r.rhoProbe } : {}),
  };
}

/** Every method's summary from every job's result, with a `result` event per method as a single run sends them. */
export function methodSummariesFrom(
  exp: Pick<Experiment, 'beta' | 'seeds' | 'tune'>,
  jobs: PlannedJob[],
  segments: Segment[],
  results: (k: number) => JobResultRecord,
  emit: (e: RunEvent) => void,
  runId: string,
): Record<string, MethodSummary> {
  const betas = chooserFrom(exp, jobs, results);
  const summaries = new MethodSummaries(jobs, segments, betas);
  jobs.forEach((job, k) => {
    if (job.phase !== 'final') return;
    const r = results(k);
    const summary = summaries.add(job, r.beta, outcomeOf(r));
    if (summary) emit({ type: 'result', runId, method: job.method.name, result: summary });
  });
  return summaries.all();
}
