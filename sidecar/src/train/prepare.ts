/**
 * What every training process of a run prepares before its jobs (a single-process run and each
 * shard of a sharded one alike): the dataset, the pre-trained sources' features ψ and their
 * quality, and the run's summary from the method summaries once every job is done. One piece
 * for both, so that a sharded run's summary is built exactly as a single-process run's.
 */
import * as path from 'node:path';
import { datasetSeed, loadExperimentDataset } from '../data/load';
import type { Dataset } from '../data/dataset';
import type { Experiment } from '../../../core/node/experiment/schema';
import { resolveMethods } from '../../../core/node/experiment/methods';
import { FEATURE_CACHE_DIR } from '../features/cache';
import { buildSources } from '../features/sources';
import type { MethodSummary, RunEvent, RunSummary } from '../../../core/common/protocol/events';
import { assessSources } from '../features/quality';
import { activeBackend, tf } from '../runtime/tf';
import { fusedKernelsReady } from '../runtime/fusedKernels';
import { noLogmeSources } from '../methods/btune';
import { checkPretrainedStudent } from '../models/pretrained';
import { ensureBuiltinStudent } from '../models/builtinStudents';
import { checkScratchMemory, checkStudentMemory, type MemoryCheck } from '../memory/studentMemory';
import { extractionProgressEvent } from '../features/onnxSource';

type Log = (message: string, level?: 'info' | 'warn' | 'debug' | 'error') => void;

/** The run's dataset, loaded and checked against a pretrained student if there is one. */
/**
 * The experiment with a built-in student (`downstream.builtin`) resolved to its folder, built
 * first when it is not in the user cache (its progress as the run's).
 */
export async function withBuiltinStudent(
  exp: Experiment,
  o: { runId: string; emit: (e: RunEvent) => void; log: Log; signal: AbortSignal },
): Promise<Experiment> {
  if (exp.downstream.model !== 'pretrained' || !exp.downstream.builtin) return exp;
  const name = exp.downstream.builtin;
  const built = await ensureBuiltinStudent(
    name,
    (step, total) =>
      o.emit({
        type: 'progress',
        runId: o.runId,
        label: `building the student ${name}`,
        step,
        steps: total,
        job: 0,
        jobs: 0,
        fraction: 0,
        etaSeconds: null,
      }),
    o.signal,
    (m) => o.log(m),
  );
  o.log(
    `built-in student ${name}: ${built.folder} (${(built.validationAccuracy * 100).toFixed(1)}% on its pre-training task${built.builtNow ? ', built now' : ''})`,
  );
  return { ...exp, downstream: { ...exp.downstream, folder: built.folder } };
}

export async function loadRunDataset(exp: Experiment, baseDir: string, log: Log): Promise<Dataset> {
  const ds = await loadExperimentDataset(exp, baseDir, log);
  log(
    `dataset ${ds.name}: ${ds.train.n} train, ${ds.test.n} test, ${ds.numClasses} classes, inputs [${ds.inputShape.join(', ')}]${ds.paired ? ` (image [${ds.paired.layout.image.join(', ')}] then ${ds.paired.layout.tokens} token ids)` : ''}`,
  );
  // Before any feature extraction or training: a job the backend cannot hold is refused here.
  const active = activeBackend();
  const backend = active?.id ?? exp.backend;
  const where = { file: '<experiment>', field: 'train.batch' };
  const jobs = {
    train: exp.train,
    methods: resolveMethods(exp),
    psiWidth: 0,
    rows: { train: ds.train.n, eval: ds.test.n },
    // Adam's update as one fused kernel leaves fewer temporaries (memory/estimate.ts).
    fusedKernels: active !== undefined && fusedKernelsReady(tf),
  };
  let memory: MemoryCheck | undefined;
  if (exp.downstream.model === 'pretrained') {
    const hub = checkPretrainedStudent(
      { ...exp.downstream, folder: path.resolve(baseDir, exp.downstream.folder ?? '') },
      ds.inputShape,
      ds.numClasses,
      ds.vocabSize,
    );
    log(
      `student: ${hub.family.describe(hub.shape)} from ${hub.folder} (${hub.shape.numClasses} classes; ${exp.downstream.weights === 'random' ? 'random weights (from scratch)' : 'pre-trained weights'}, head ${exp.downstream.head}${hub.family.input(hub.shape).kind === 'image' ? `, BatchNorm ${exp.downstream.batchnorm}` : ''})`,
    );
    // An image student's inputs are [height, width, channels]; a text student's [tokens] ids,
    // estimated as [tokens, 1] of one channel.
    const text = hub.family.input(hub.shape).kind === 'tokens';
    memory = checkStudentMemory(
      {
        family: hub.family,
        shape: { ...hub.shape, numClasses: ds.numClasses },
        size: text ? [ds.inputShape[0], 1] : [ds.inputShape[0], ds.inputShape[1]],
        channels: text ? 1 : ds.inputShape[2],
        ...jobs,
      },
      backend,
      where,
      undefined,
      active?.adapter?.limits,
    );
  } else {
    memory = checkScratchMemory(
      exp.downstream,
      ds.inputShape,
      ds.numClasses,
      jobs,
      backend,
      where,
      undefined,
      active?.adapter?.limits,
    );
  }
  if (memory?.refusal) throw memory.refusal;
  if (memory) log(memory.verdict.line, memory.verdict.level === 'warn' ? 'warn' : 'info');
  return ds;
}

export type PreparedSources = Awaited<ReturnType<typeof prepareSources>>;

/** ψ of the run's sources (cached, extracted or built) and each source's quality. */
export async function prepareSources(
  exp: Experiment,
  ds: Dataset,
  baseDir: string,
  o: { runId: string; workspaceDir: string; emit: (e: RunEvent) => void; log: Log; signal: AbortSignal },
) {
  const { runId, emit, log, signal } = o;
  const sources = await buildSources(exp.pretrained, ds, baseDir, datasetSeed(exp.dataset), {
    signal,
    log,
    onBuildProgress: (label, step, total) =>
      emit({ type: 'progress', runId, label, step, steps: total, job: 0, jobs: 0, fraction: 0, etaSeconds: null }),
    cacheRoot: path.join(o.workspaceDir, FEATURE_CACHE_DIR),
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
  return { sources, psi, quality };
}

/** summary.json of a run whose jobs are all done. */
export function runSummary(o: {
  runId: string;
  exp: Experiment;
  ds: Dataset;
  backendId: string;
  prepared: PreparedSources;
  methods: Record<string, MethodSummary>;
  started: Date;
}): RunSummary {
  const { ds, prepared } = o;
  const { quality, sources } = prepared;
  const finished = new Date();
  return {
    format: 'aft-run-summary',
    version: 1,
    runId: o.runId,
    experiment: o.exp.name,
    dataset: { name: ds.name, train: ds.train.n, test: ds.test.n, classes: ds.numClasses, inputShape: ds.inputShape },
    backend: activeBackend()?.id ?? o.backendId,
    sources: quality.sources,
    ...(quality.concatProbe !== undefined ? { linear_probe_concat: quality.concatProbe } : {}),
    ...(quality.rawConcatProbe !== undefined ? { raw_probe_concat: quality.rawConcatProbe } : {}),
    methods: o.methods,
    ...(sources.teacher
      ? {
          teacher: {
            validation_accuracy: sources.teacher.validationAccuracy,
            built_seconds: sources.teacher.seconds,
            file: sources.teacher.file,
          },
        }
      : {}),
    started: o.started.toISOString(),
    finished: finished.toISOString(),
    seconds: (finished.getTime() - o.started.getTime()) / 1000,
  };
}
