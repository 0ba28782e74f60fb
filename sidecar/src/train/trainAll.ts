/**
 * Trains every job of a run's plan in order (β tuning on the holdout, then the reported
 * training of every seed) and returns each method's summary. The loop only sequences the
 * jobs and calls one small piece per concern, each in its own file, so that each can be read
 * (and its state, kept across jobs, found) on its own: the data of each phase (phaseData.ts),
 * the β choice (betaChooser.ts), progress and its ETA (progress.ts), ρ events and files
 * (rhoWriter.ts), checkpoints (checkpoints.ts) and the method summaries (methodSummaries.ts).
 */
import * as path from 'node:path';
import type { Experiment } from '../../../core/node/experiment/schema';
import type { EventSink, MetricsEvent, MethodSummary } from '../../../core/common/protocol/events';
import type { RunOutputs } from '../../../core/node/runs/store';
import { CancelledError } from '../../../core/common/util/errors';
import type { Dataset } from '../data/dataset';
import type { PretrainedFeatures } from '../features/features';
import type { RhoProbes } from '../features/quality';
import { SharedMethodState } from '../methods/method';
import { yieldToEventLoop } from '../util/async';
import { BetaChooser, coarseHoldoutWarning } from './betaChooser';
import { saveCheckpoint } from './checkpoints';
import { trainJob, type EvalPoint, type JobSpec } from './job';
import { modelInputs } from '../models/model';
import { MethodSummaries, type FinalResult } from './methodSummaries';
import { phaseData, type PhaseData } from './phaseData';
import { planJobs, type PlannedJob } from './plan';
import { ProgressTracker } from './progress';
import { RhoWriter } from './rhoWriter';

export interface TrainAllOptions {
  exp: Experiment;
  ds: Dataset;
  /** ψ, the pre-trained sources' features (width 0 when there are none). */
  psi: Pick<PretrainedFeatures, 'width' | 'train' | 'segments'>;
  /** Folder that `downstream.init` resolves against. */
  baseDir: string;
  /** Where ρ files and checkpoints go. */
  store: RunOutputs;
  emit: EventSink;
  log: (message: string, level?: 'info' | 'warn') => void;
  signal?: AbortSignal;
  /**
   * The raw-scale probe's test accuracy on ψ ⊙ ρ for a learned ρ, per source and concatenated
   * (quality.ts `rhoWeightedProbes`); run on each final job that learns ρ.
   */
  probeRho?(rho: Float32Array): Promise<RhoProbes>;
}

export async function trainAll(o: TrainAllOptions): Promise<Record<string, MethodSummary>> {
  const jobs = planJobs(o.exp, o.ds.train.n);
  return withJobTrainer(o, jobs, (trainer) => trainJobs(o, jobs, trainer));
}

/**
 * Runs `body` with a `JobTrainer` for the run (its data per phase, and what jobs on the same data
 * share: factor transfer's autoencoder, LogME of each source; it holds tensors, so it is freed
 * however the run ends). Warns first when the β-tuning holdout is too small to choose by.
 */
export async function withJobTrainer<T>(
  o: TrainAllOptions,
  jobs: PlannedJob[],
  body: (trainer: JobTrainer) => Promise<T>,
): Promise<T> {
  const data = phaseData(o.exp, o.ds, o.psi);
  const warning = coarseHoldoutWarning(jobs, data.holdout, o.exp, o.ds.train.n);
  if (warning) o.log(warning, 'warn');
  const shared = new SharedMethodState();
  try {
    return await body(new JobTrainer(o, data, shared));
  } finally {
    shared.dispose();
  }
}

async function trainJobs(
  o: TrainAllOptions,
  jobs: PlannedJob[],
  trainer: JobTrainer,
): Promise<Record<string, MethodSummary>> {
  const runId = o.store.runId;
  const betas = new BetaChooser(o.exp);
  const progress = new ProgressTracker(runId, jobs, o.emit);
  const summaries = new MethodSummaries(jobs, o.psi.segments, betas);
  for (const [j, job] of jobs.entries()) {
    await yieldToEventLoop();
    if (o.signal?.aborted) throw new CancelledError();
    const beta = betas.betaFor(job);
    o.log(`job ${j + 1}/${jobs.length}: ${jobLabel(job, beta)}`);
    const result = await trainer.run(job, beta, progress.onStep(j, jobLabel(job, beta)));
    progress.jobDone(j);
    if (job.phase === 'tune') betas.record(job, beta, result.evalAccuracy);
    else {
      const summary = summaries.add(job, beta, result);
      if (summary) o.emit({ type: 'result', runId, method: job.method.name, result: summary });
    }
  }
  return summaries.all();
}

/** What one job leaves for the β choice (tune) or the method's summary (final). */
export type JobOutcome = FinalResult;

/** Trains one job of the run at a time: its model, its metrics events, its checkpoint and ρ files. */
export class JobTrainer {
  private readonly rho: RhoWriter;
  private readonly common: Omit<JobSpec, 'method' | 'beta' | 'seed' | keyof PhaseData>;

  constructor(
    private readonly o: TrainAllOptions,
    private readonly data: Record<PlannedJob['phase'], PhaseData>,
    shared: SharedMethodState,
  ) {
    this.rho = new RhoWriter(o.store.runId, o.store, o.psi.segments, o.emit);
    this.common = commonSpec(o, shared);
  }

  /** Trains `job` with `beta`; `onStep` hears its steps. */
  async run(job: PlannedJob, beta: number, onStep: (step: number, total: number) => void): Promise<JobOutcome> {
    const o = this.o;
    const { name } = job.method;
    const label = jobLabel(job, beta);
    const result = await trainJob(
      { ...this.common, method: job.method, beta, seed: job.seed, ...this.data[job.phase] },
      {
        ...(o.signal ? { signal: o.signal } : {}),
        log: o.log,
        onStep,
        onEval: (p) => {
          o.emit(metricsEvent(o.store.runId, job, beta, p));
          if (p.rho && job.phase === 'final') this.rho.atStep(name, job.seed, p.step, p.rho);
        },
      },
    );
    try {
      if (job.phase === 'tune') {
        o.log(`${label}: holdout accuracy ${(result.evalAccuracy * 100).toFixed(2)}%`);
        return { evalAccuracy: result.evalAccuracy, seconds: result.seconds };
      }
      await saveCheckpoint(o.store, job, beta, result.model, o.exp.downstream.model);
      if (result.rho) this.rho.atEnd(name, job.seed, result.rho);
      o.log(`${label}: test accuracy ${(result.evalAccuracy * 100).toFixed(2)}% (${result.seconds.toFixed(1)} s)`);
      const rhoProbe = result.rho && o.probeRho ? await o.probeRho(result.rho) : undefined;
      return {
        evalAccuracy: result.evalAccuracy,
        seconds: result.seconds,
        ...(result.rho ? { rho: result.rho } : {}),
        ...(rhoProbe ? { rhoProbe } : {}),
      };
    } finally {
      result.model.dispose();
      result.method.dispose();
    }
  }
}

/** The part of every job's spec that is the same for the whole run. */
function commonSpec(
  o: TrainAllOptions,
  shared: SharedMethodState,
): Omit<JobSpec, 'method' | 'beta' | 'seed' | keyof PhaseData> {
  const d = o.exp.downstream;
  return {
    downstream: d.folder !== undefined ? { ...d, folder: path.resolve(o.baseDir, d.folder) } : d,
    ...(o.exp.downstream.init !== 'random' ? { initCheckpoint: path.resolve(o.baseDir, o.exp.downstream.init) } : {}),
    train: o.exp.train,
    numClasses: o.ds.numClasses,
    inputs: modelInputs(o.ds),
    psiWidth: o.psi.width,
    segments: o.psi.segments,
    shared,
  };
}

/** What logs and progress call a job, e.g. "aft seed 1 β=10 (choosing β on the holdout)". */
export function jobLabel(job: PlannedJob, beta: number): string {
  return `${job.method.name} seed ${job.seed}${job.method.kind === 'stl' ? '' : ` β=${beta}`}${job.phase === 'tune' ? ' (choosing β on the holdout)' : ''}`;
}

/** One evaluation of a job as a `metrics` event (its key order is metrics.jsonl's). */
function metricsEvent(runId: string, job: PlannedJob, beta: number, p: EvalPoint): MetricsEvent {
  return {
    type: 'metrics',
    runId,
    method: job.method.name,
    seed: job.seed,
    beta,
    phase: job.phase,
    step: p.step,
    epoch: p.epoch,
    ce: p.ce,
    reg: p.reg,
    loss: p.loss,
    trainAccuracy: p.trainAccuracy,
    evalAccuracy: p.evalAccuracy,
    lr: p.lr,
    ...(p.rhoBySource ? { rho: p.rhoBySource } : {}),
    timestamp: Date.now(),
  };
}
