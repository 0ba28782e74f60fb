/**
 * Runs a whole experiment: dataset, feature sources, β tuning, every method and seed, with
 * events for progress and metrics, and everything persisted in the run store. This is the
 * engine's library entry point; the CLI and the JSON-RPC server are thin front ends over it.
 */
import * as path from 'node:path';
import { datasetSeed, loadExperimentDataset } from '../data/load';
import type { Experiment } from '../../../core/node/experiment/schema';
import { resolveMethods } from '../../../core/node/experiment/methods';
import { resolvePaths } from '../../../core/node/experiment/semantics';
import { FEATURE_CACHE_DIR } from '../features/cache';
import { buildSources } from '../features/sources';
import type { EventSink, RunEvent, RunSummary } from '../../../core/common/protocol/events';
import { assessSources, rhoWeightedProbes } from '../features/quality';
import { RunStore, stopRequested, type RunPlace } from '../../../core/node/runs/store';
import { activeBackend, initBackend, type BackendChoice } from '../runtime/tf';
import { AftError, CancelledError, describeError } from '../../../core/common/util/errors';
import { parseOverrides, withOverrides, type OverrideOrigin } from '../../../core/node/experiment/overrides';
import { noLogmeSources } from '../methods/btune';
import { checkPretrainedStudent } from '../models/pretrained';
import { ensureBuiltinStudent } from '../models/builtinStudents';
import { trainAll } from './trainAll';
import { extractionProgressEvent } from '../features/onnxSource';

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
  /** Where the overrides came from, for messages (default: "run options"). */
  origin?: OverrideOrigin;
  signal?: AbortSignal;
  sink?: EventSink;
  /** Where the run folder goes (a study's runs go in its folder). */
  place?: RunPlace;
}

export interface RunOutcome {
  runId: string;
  dir: string;
  summary: RunSummary;
}

/**
 * Applies CLI/extension overrides to the experiment, checked by the file's own field schemas
 * (core/node/experiment/overrides.ts); a bad one is a bad-input error naming it.
 */
export function applyOverrides(
  exp: Experiment,
  o: Pick<RunOptions, 'backend' | 'seeds' | 'steps' | 'methods' | 'origin'>,
): Experiment {
  const origin = o.origin ?? { file: 'run options', field: (k: string) => k };
  const checked = parseOverrides({ backend: o.backend, seeds: o.seeds, steps: o.steps, methods: o.methods }, origin);
  return withOverrides(
    exp,
    checked,
    resolveMethods(exp).map((m) => m.name),
    origin,
  );
}

/** What status.json says of a failure: the error's message, never a stack. */
function statusMessage(e: unknown): string {
  if (e instanceof AftError) return e.format();
  if (e instanceof Error) return `internal error: ${e.message.split('\n')[0]} (the stack is in run.log)`;
  return String(e);
}

/**
 * The run's own signal: the caller's, or a stop asked through the run folder (`requestStop`, from
 * a process that does not own the run), checked every second.
 */
function stopSignal(dir: string, outer?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onOuter = (): void => controller.abort();
  if (outer?.aborted) controller.abort();
  outer?.addEventListener('abort', onOuter);
  const timer = setInterval(() => {
    if (stopRequested(dir)) controller.abort();
  }, 1000);
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearInterval(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

export async function runExperiment(input: ExperimentInput, opts: RunOptions): Promise<RunOutcome> {
  let exp = applyOverrides(input.experiment, opts);
  // experiment.json keeps absolute paths, so `aft export` finds the data without the file's folder.
  const store = RunStore.create(
    opts.workspaceDir,
    exp.name,
    resolvePaths(exp, input.baseDir),
    input.sourceText,
    opts.place,
  );
  const runId = store.runId;
  const stop = stopSignal(store.dir, opts.signal);
  const signal = stop.signal;
  const started = new Date();
  // A write that fails here fails the run: metrics and progress come from the training and
  // extraction loops, which the error stops. Logs come from anywhere (worker threads, timers),
  // where an error would crash the process: the store keeps a failed log write as the run's
  // error and throws it at the run's next write (the next step's progress at the latest).
  const emit = (e: RunEvent): void => {
    try {
      if (e.type === 'metrics') store.appendMetrics(e);
      else if (e.type === 'progress')
        store.heartbeat({ fraction: e.fraction, label: e.label, etaSeconds: e.etaSeconds });
      else if (e.type === 'log') {
        try {
          store.appendLog(`[${e.level}] ${e.message}`);
        } catch {
          // kept by the store (see above)
        }
      }
    } finally {
      opts.sink?.(e);
    }
  };
  const log = (message: string, level: 'info' | 'warn' | 'debug' | 'error' = 'info'): void =>
    emit({ type: 'log', runId, level, message, timestamp: Date.now() });
  emit({ type: 'status', runId, state: 'running', runDir: store.dir });
  try {
    const backend = await initBackend(exp.backend, (m) => log(m));
    if (exp.downstream.model === 'pretrained' && exp.downstream.builtin) {
      const name = exp.downstream.builtin;
      const built = await ensureBuiltinStudent(
        name,
        (step, total) =>
          emit({
            type: 'progress',
            runId,
            label: `building the student ${name}`,
            step,
            steps: total,
            job: 0,
            jobs: 0,
            fraction: 0,
            etaSeconds: null,
          }),
        signal,
        (m) => log(m),
      );
      log(
        `built-in student ${name}: ${built.folder} (${(built.validationAccuracy * 100).toFixed(1)}% on its pre-training task${built.builtNow ? ', built now' : ''})`,
      );
      exp = { ...exp, downstream: { ...exp.downstream, folder: built.folder } };
    }
    const ds = await loadExperimentDataset(exp, input.baseDir, log);
    log(
      `dataset ${ds.name}: ${ds.train.n} train, ${ds.test.n} test, ${ds.numClasses} classes, inputs [${ds.inputShape.join(', ')}]`,
    );
    if (exp.downstream.model === 'pretrained') {
      const hub = checkPretrainedStudent(
        { ...exp.downstream, folder: path.resolve(input.baseDir, exp.downstream.folder ?? '') },
        ds.inputShape,
        ds.numClasses,
      );
      log(
        `student: ${hub.family.describe(hub.shape)} from ${hub.folder} (${hub.shape.numClasses} classes; ${exp.downstream.weights === 'random' ? 'random weights (from scratch)' : 'pre-trained weights'}, head ${exp.downstream.head}, BatchNorm ${exp.downstream.batchnorm})`,
      );
    }
    const sources = await buildSources(exp.pretrained, ds, input.baseDir, datasetSeed(exp.dataset), {
      signal,
      log,
      onBuildProgress: (label, step, total) =>
        emit({ type: 'progress', runId, label, step, steps: total, job: 0, jobs: 0, fraction: 0, etaSeconds: null }),
      cacheRoot: path.join(opts.workspaceDir, FEATURE_CACHE_DIR),
      onExtractProgress: (p) => emit(extractionProgressEvent(runId, p, 0)),
    });
    const psi = sources.features;
    if (psi.width)
      log(`pre-trained features ψ: ${psi.segments.map((s) => `${s.name} (${s.width})`).join(' + ')} = ${psi.width}`);
    const quality = psi.width
      ? await assessSources(sources.blocks, psi, ds, exp.tune.holdout, exp.tune.split_seed, log)
      : { sources: [] };
    // Before any training, so that nothing is trained for a run that cannot finish.
    const btune = resolveMethods(exp).find((m) => m.kind === 'btune');
    if (btune && quality.sources.length && quality.sources.every((s) => s.logme_score === undefined)) {
      throw noLogmeSources(
        btune.name,
        quality.sources.map((s) => ({ source: s.name, reason: s.logme_error ?? 'not computed' })),
      );
    }
    const methods = await trainAll({
      exp,
      ds,
      psi,
      baseDir: input.baseDir,
      store,
      emit,
      log,
      signal,
      ...(psi.width ? { probeRho: rhoWeightedProbes(sources.blocks, psi, ds, log) } : {}),
    });
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
      ...(quality.rawConcatProbe !== undefined ? { raw_probe_concat: quality.rawConcatProbe } : {}),
      methods,
      ...(sources.teacher
        ? {
            teacher: {
              validation_accuracy: sources.teacher.validationAccuracy,
              built_seconds: sources.teacher.seconds,
              file: sources.teacher.file,
            },
          }
        : {}),
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
    // status.json says what happened in a sentence; a bug's stack goes to the log only.
    const message = cancelled ? 'cancelled by the user' : statusMessage(e);
    // The first error is the one reported. Writes that fail now (the disk is still full or
    // read-only) must not replace it: the log line and the status event go out regardless.
    if (!cancelled) {
      store.appendLogQuietly(`[error] ${describeError(e)}`);
      opts.sink?.({ type: 'log', runId, level: 'error', message: describeError(e), timestamp: Date.now() });
    }
    // Bad input found by the loaders before any training: nothing is worth keeping.
    const removed = e instanceof AftError && e.code === 'bad_input' && !store.trained;
    let unrecorded: string | undefined;
    try {
      if (removed) store.discard();
      else store.finish(cancelled ? 'cancelled' : 'failed', message);
    } catch (w) {
      unrecorded = (w as Error).message;
    }
    if (unrecorded) {
      opts.sink?.({
        type: 'log',
        runId,
        level: 'warn',
        message: `status.json could not record this (${unrecorded}); it reads as failed once this process has exited`,
        timestamp: Date.now(),
      });
    }
    opts.sink?.({
      type: 'status',
      runId,
      state: cancelled ? 'cancelled' : 'failed',
      runDir: store.dir,
      message,
      ...(removed ? { removed: true as const } : {}),
    });
    throw e;
  } finally {
    stop.dispose();
  }
}
