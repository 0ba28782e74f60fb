/**
 * Runs a whole experiment: dataset, feature sources, β tuning, every method and seed, with
 * events for progress and metrics, and everything persisted in the run store. This is the
 * engine's library entry point; the CLI and the JSON-RPC server are thin front ends over it.
 */
import { takeRows, takeSplit, type Dataset } from '../data/dataset';
import { datasetSeed, loadExperimentDataset } from '../data/load';
import type { Experiment } from '../experiment/schema';
import { betaGrid, resolvePaths, resolveMethods } from '../experiment/semantics';
import { FEATURE_CACHE_DIR } from '../features/cache';
import { buildSources } from '../features/sources';
import { modelWeights } from '../models/model';
import type { EventSink, MethodSummary, RunEvent, RunSummary } from '../protocol/events';
import { assessSources } from '../features/quality';
import { RunStore } from '../runs/store';
import { activeBackend, initBackend, type BackendChoice } from '../runtime/tf';
import { AftError, CancelledError, describeError } from '../util/errors';
import { Rng } from '../util/rng';
import type { Examples } from './evaluate';
import { SharedMethodState } from '../methods/method';
import { noLogmeSources } from '../methods/btune';
import { trainJob, type EvalPoint } from './job';
import { planJobs, tuneTrainSize, type PlannedJob } from './plan';
import { meanSe } from './stats';
import * as path from 'node:path';
import { yieldToEventLoop } from '../util/async';
import { summariseBySegment } from '../features/features';

export interface ExperimentInput {
  experiment: Experiment;
  /** Folder that relative paths resolve against. */
  baseDir: string;
  /** The file's text, kept in the run folder. */
  sourceText: string;
}

export interface RunOptions {
  /** The workspace whose `.aft/runs/` receives the run. */
  workspaceDir: string;
  backend?: BackendChoice;
  seeds?: number[];
  steps?: number;
  /** Only these methods (by name). */
  methods?: string[];
  signal?: AbortSignal;
  sink?: EventSink;
}

export interface RunOutcome {
  runId: string;
  dir: string;
  summary: RunSummary;
}

/** Applies CLI/extension overrides to the experiment. */
export function applyOverrides(exp: Experiment, o: Pick<RunOptions, 'backend' | 'seeds' | 'steps' | 'methods'>): Experiment {
  let methods = exp.methods;
  if (o.methods?.length) {
    const names = resolveMethods(exp).map((m) => m.name);
    const unknown = o.methods.filter((m) => !names.includes(m));
    if (unknown.length) throw new AftError('bad_input', `unknown method ${unknown.join(', ')}; this experiment has ${names.join(', ')}`);
    methods = exp.methods.filter((_, i) => o.methods!.includes(names[i]));
  }
  return {
    ...exp,
    methods,
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.seeds?.length ? { seeds: o.seeds } : {}),
    ...(o.steps ? { train: { ...exp.train, steps: o.steps } } : {}),
  };
}

/** Estimates the time left from the measured milliseconds per step of each method. */
class Eta {
  private readonly msPerStep = new Map<string, number>();
  record(method: string, ms: number, steps: number): void {
    if (steps > 0) this.msPerStep.set(method, ms / steps);
  }
  seconds(remaining: { method: string; steps: number }[]): number | null {
    if (this.msPerStep.size === 0) return null;
    const mean = [...this.msPerStep.values()].reduce((a, b) => a + b, 0) / this.msPerStep.size;
    return remaining.reduce((a, r) => a + r.steps * (this.msPerStep.get(r.method) ?? mean), 0) / 1000;
  }
}

export async function runExperiment(input: ExperimentInput, opts: RunOptions): Promise<RunOutcome> {
  const exp = applyOverrides(input.experiment, opts);
  // experiment.json keeps absolute paths, so `aft export` finds the data without the file's folder.
  const store = RunStore.create(opts.workspaceDir, exp.name, resolvePaths(exp, input.baseDir), input.sourceText);
  const runId = store.runId;
  const started = new Date();
  const emit = (e: RunEvent): void => {
    try {
      if (e.type === 'metrics') store.appendMetrics(e);
      else if (e.type === 'log') store.appendLog(`[${e.level}] ${e.message}`);
      else if (e.type === 'progress') store.heartbeat({ fraction: e.fraction, label: e.label, etaSeconds: e.etaSeconds });
    } finally {
      opts.sink?.(e);
    }
  };
  const log = (message: string, level: 'info' | 'warn' | 'debug' | 'error' = 'info'): void => emit({ type: 'log', runId, level, message, timestamp: Date.now() });
  emit({ type: 'status', runId, state: 'running', runDir: store.dir });
  try {
    const backend = await initBackend(exp.backend, (m) => log(m));
    const ds = await loadExperimentDataset(exp, input.baseDir, log);
    log(`dataset ${ds.name}: ${ds.train.n} train, ${ds.test.n} test, ${ds.numClasses} classes, inputs [${ds.inputShape.join(', ')}]`);
    const sources = await buildSources(exp.pretrained, ds, input.baseDir, datasetSeed(exp.dataset), {
      ...(opts.signal ? { signal: opts.signal } : {}),
      log,
      onBuildProgress: (label, step, total) =>
        emit({ type: 'progress', runId, label, step, steps: total, job: 0, jobs: 0, fraction: 0, etaSeconds: null }),
      cacheRoot: path.join(opts.workspaceDir, FEATURE_CACHE_DIR),
      onExtractProgress: (p) =>
        emit({ type: 'progress', runId, label: `extracting ${p.source} (${p.provider})`, step: p.done, steps: p.total, job: 0, jobs: 0, fraction: 0, etaSeconds: p.etaSeconds, itemsPerSecond: p.itemsPerSecond }),
    });
    const psi = sources.features;
    if (psi.width) log(`pre-trained features ψ: ${psi.segments.map((s) => `${s.name} (${s.width})`).join(' + ')} = ${psi.width}`);
    const quality = psi.width ? await assessSources(sources.blocks, psi, ds, exp.tune.holdout, exp.tune.split_seed, log) : { sources: [] };
    // Before any training, so that nothing is trained for a run that cannot finish.
    const btune = resolveMethods(exp).find((m) => m.kind === 'btune');
    if (btune && quality.sources.length && quality.sources.every((s) => s.logme_score === undefined)) {
      throw noLogmeSources(btune.name, quality.sources.map((s) => ({ source: s.name, reason: s.logme_error ?? 'not computed' })));
    }
    const methods = await trainAll(exp, ds, psi, input.baseDir, store, emit, log, opts.signal);
    const finished = new Date();
    const summary: RunSummary = {
      format: 'aft-run-summary',
      version: 1,
      runId,
      experiment: exp.name,
      dataset: { name: ds.name, train: ds.train.n, test: ds.test.n, classes: ds.numClasses, inputShape: ds.inputShape },
      backend: activeBackend()?.id ?? backend.id,
      sources: quality.sources,
      ...(quality.concatProbe !== undefined ? { linear_probe_concat: quality.concatProbe } : {}),
      methods,
      ...(sources.teacher ? { teacher: { validation_accuracy: sources.teacher.validationAccuracy, built_seconds: sources.teacher.seconds, file: sources.teacher.file } } : {}),
      started: started.toISOString(),
      finished: finished.toISOString(),
      seconds: (finished.getTime() - started.getTime()) / 1000,
    };
    store.writeSummary(summary);
    store.finish('completed');
    emit({ type: 'status', runId, state: 'completed', runDir: store.dir });
    return { runId, dir: store.dir, summary };
  } catch (e) {
    const cancelled = e instanceof CancelledError;
    const message = cancelled ? 'cancelled by the user' : describeError(e);
    store.finish(cancelled ? 'cancelled' : 'failed', message);
    if (!cancelled) log(message, 'error');
    emit({ type: 'status', runId, state: cancelled ? 'cancelled' : 'failed', runDir: store.dir, message });
    throw e;
  }
}

function examples(split: { n: number; x: Float32Array; y: Int32Array }, ds: Dataset): Examples {
  return { ...split, inputShape: ds.inputShape };
}


async function trainAll(
  exp: Experiment,
  ds: Dataset,
  psi: { width: number; train: Float32Array; segments: { name: string; offset: number; width: number }[] },
  baseDir: string,
  store: RunStore,
  emit: EventSink,
  log: (m: string, level?: 'info' | 'warn') => void,
  signal?: AbortSignal,
): Promise<Record<string, MethodSummary>> {
  const runId = store.runId;
  const width = ds.inputShape.reduce((a, b) => a * b, 1);
  // The holdout split is fixed (tune.split_seed), the same for every β and seed.
  const order = new Rng(exp.tune.split_seed).permutation(ds.train.n);
  const sizes = tuneTrainSize(ds.train.n, exp.tune.holdout);
  const holdIdx = order.subarray(0, sizes.holdout);
  const subIdx = order.subarray(sizes.holdout);
  const tuneData = { train: examples(takeSplit(ds.train, width, subIdx), ds), holdout: examples(takeSplit(ds.train, width, holdIdx), ds), psi: takeRows(psi.train, psi.width, subIdx) };
  const fullData = { train: examples(ds.train, ds), test: examples(ds.test, ds) };

  const jobs = planJobs(exp, ds.train.n);
  // One holdout example more or less moves accuracy by 1/holdout: below ~20 the choice is noise.
  const tuned = [...new Set(jobs.filter((j) => j.phase === 'tune').map((j) => j.method.name))];
  if (tuned.length && sizes.holdout < 20) {
    log(`β is chosen for ${tuned.join(', ')} on a holdout of ${sizes.holdout} example${sizes.holdout === 1 ? '' : 's'} (tune.holdout ${exp.tune.holdout} of ${ds.train.n}): each one is ${(100 / sizes.holdout).toFixed(0)} points of accuracy, so the choice is coarse; give one β per method, or more training data`, 'warn');
  }
  const totalSteps = jobs.reduce((a, j) => a + j.steps, 0);
  const eta = new Eta();
  const results: Record<string, MethodSummary> = {};
  let doneSteps = 0;
  let lastProgress = 0;
  const chosen = new Map<string, number>();
  const tuning = new Map<string, MethodSummary['tuning']>();
  const perSeed = new Map<string, Record<string, number>>();
  const rhoMeans = new Map<string, Record<string, number>[]>();
  const seconds = new Map<string, number>();
  const shared = new SharedMethodState();
  try {
    return await trainJobs();
  } finally {
    shared.dispose();
  }

  async function trainJobs(): Promise<Record<string, MethodSummary>> {

  for (let j = 0; j < jobs.length; j++) {
    const job = jobs[j];
    await yieldToEventLoop();
    if (signal?.aborted) throw new CancelledError();
    const m = job.method;
    const grid = betaGrid(exp, m);
    const beta = job.beta ?? chosen.get(`${m.name}:${exp.tune.seeds === 'all' ? job.seed : exp.seeds[0]}`) ?? grid[0];
    const tune = job.phase === 'tune';
    const label = `${m.name} seed ${job.seed}${m.kind === 'stl' ? '' : ` β=${beta}`}${tune ? ' (choosing β on the holdout)' : ''}`;
    log(`job ${j + 1}/${jobs.length}: ${label}`);
    const remaining = (currentStep: number): { method: string; steps: number }[] => [
      { method: m.kind, steps: job.steps - currentStep },
      ...jobs.slice(j + 1).map((r: PlannedJob) => ({ method: r.method.kind, steps: r.steps })),
    ];
    let firstStep: { at: number; step: number } | undefined;
    const result = await trainJob(
      {
        method: m,
        beta,
        seed: job.seed,
        downstream: exp.downstream,
        ...(exp.downstream.init !== 'random' ? { initCheckpoint: path.resolve(baseDir, exp.downstream.init) } : {}),
        train: exp.train,
        numClasses: ds.numClasses,
        ...(ds.vocabSize ? { vocabSize: ds.vocabSize } : {}),
        trainData: tune ? tuneData.train : fullData.train,
        psiTrain: tune ? tuneData.psi : psi.train,
        psiWidth: psi.width,
        segments: psi.segments,
        evalData: tune ? tuneData.holdout : fullData.test,
        shared,
        dataKey: tune ? 'tune' : 'final',
      },
      {
        ...(signal ? { signal } : {}),
        log: (message, level) => log(message, level),
        onStep: (step, total) => {
          const now = performance.now();
          if (now - lastProgress < 200 && step < total) return;
          lastProgress = now;
          // The rate from the job's first reported step on: setting a method up (factor
          // transfer's autoencoder, LogME) happens before step 1 and is not a per-step cost.
          firstStep ??= { at: now, step };
          if (step - firstStep.step >= 5) eta.record(m.kind, now - firstStep.at, step - firstStep.step);
          emit({ type: 'progress', runId, label, step, steps: total, job: j + 1, jobs: jobs.length, fraction: (doneSteps + step) / totalSteps, etaSeconds: eta.seconds(remaining(step)) });
        },
        onEval: (p: EvalPoint) => {
          emit({
            type: 'metrics',
            runId,
            method: m.name,
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
          });
          if (p.rho && !tune) {
            emit({ type: 'rho', runId, method: m.name, seed: job.seed, step: p.step, segments: psi.segments, values: Array.from(p.rho) });
            // The file is rewritten at every evaluation so that dashboards reading the run
            // store show ρ as it moves; the final write (without `step`) replaces it.
            store.writeRho(m.name, job.seed, psi.segments, p.rho, p.step);
          }
        },
      },
    );
    doneSteps += job.steps;
    try {
      if (tune) {
        const key = `${m.name}:${job.seed}`;
        const list = tuning.get(m.name) ?? [];
        let entry = list.find((t) => t.seed === job.seed);
        if (!entry) list.push((entry = { seed: job.seed, candidates: [], chosen: beta }));
        entry.candidates.push({ beta, holdout_accuracy: result.evalAccuracy });
        // Best holdout accuracy wins; ties go to the earlier (grid-order) β.
        const best = entry.candidates.reduce((a, c) => (c.holdout_accuracy > a.holdout_accuracy ? c : a));
        entry.chosen = best.beta;
        chosen.set(key, best.beta);
        tuning.set(m.name, list);
        log(`${label}: holdout accuracy ${(result.evalAccuracy * 100).toFixed(2)}%`);
      } else {
        const seeds = perSeed.get(m.name) ?? {};
        seeds[String(job.seed)] = result.evalAccuracy;
        perSeed.set(m.name, seeds);
        seconds.set(m.name, (seconds.get(m.name) ?? 0) + result.seconds);
        store.writeCheckpoint(m.name, job.seed, await modelWeights(result.model), { method: m.name, seed: String(job.seed), beta: String(beta), model: exp.downstream.model });
        if (result.rho) {
          store.writeRho(m.name, job.seed, psi.segments, result.rho);
          const bySource = summariseBySegment(result.rho, psi.segments);
          rhoMeans.set(m.name, [...(rhoMeans.get(m.name) ?? []), Object.fromEntries(Object.entries(bySource).map(([k, v]) => [k, v.mean]))]);
        }
        log(`${label}: test accuracy ${(result.evalAccuracy * 100).toFixed(2)}% (${result.seconds.toFixed(1)} s)`);
        const lastSeed = !jobs.slice(j + 1).some((r) => r.method.name === m.name);
        if (lastSeed) {
          const values = Object.values(seeds);
          const rhoList = rhoMeans.get(m.name);
          const summary: MethodSummary = {
            kind: m.kind,
            test_accuracy: { ...meanSe(values), per_seed: seeds },
            beta,
            tuning: tuning.get(m.name) ?? [],
            ...(rhoList ? { rho_mean_by_source: Object.fromEntries(psi.segments.map((s) => [s.name, rhoList.reduce((a, r) => a + r[s.name], 0) / rhoList.length])) } : {}),
            train_seconds: seconds.get(m.name) ?? 0,
          };
          results[m.name] = summary;
          emit({ type: 'result', runId, method: m.name, result: summary });
        }
      }
    } finally {
      result.model.dispose();
      result.method.dispose();
    }
  }
  return results;
  }
}
