/**
 * Feature extraction without training, for an experiment's onnx and builtin sources: the library
 * function behind `aft extract` (CLI) and `aft/extract` (JSON-RPC). It emits the same progress
 * events (items/s, ETA) and logs as a run's extraction, stops at the next batch when its signal
 * aborts (finished chunks are kept), and answers with the cache entries written or reused.
 */
import * as path from 'node:path';
import { loadExperimentDataset } from '../data/load';
import type { Experiment } from '../../../core/node/experiment/schema';
import type { RunEvent } from '../../../core/common/protocol/events';
import type { ExtractEntry, Shard } from '../../../core/common/protocol/rpc';
import { initBackend, type BackendChoice } from '../runtime/tf';
import { badInput, type SourceLocation } from '../../../core/common/util/errors';
import { FEATURE_CACHE_DIR } from './cache';
import { extractionProgressEvent, extractOnnx, type ExtractOutcome } from './onnxSource';
import { onnxSourceRefs } from './sources';

export interface ExtractExperimentOptions {
  /** The cache goes to `<workspaceDir>/.aft/cache/features`. */
  workspaceDir: string;
  shard?: Shard;
  /** Overrides the experiment's `backend` (used only to build the built-in teacher). */
  backend?: BackendChoice;
  signal?: AbortSignal;
  /** Put on every event as `runId` ('' for the CLI). */
  id?: string;
  /** Progress and log events. */
  sink: (e: RunEvent) => void;
  /** Each source's entry as soon as it is done (the CLI prints it then). */
  onEntry?: (entry: ExtractEntry, outcome: ExtractOutcome) => void;
}

export interface ExtractExperimentResult {
  cacheRoot: string;
  entries: ExtractEntry[];
}

/** A shard from a request (or parsed argv): integers with 0 ≤ index < count. */
export function checkShard(shard: unknown, where: SourceLocation = { file: '<request>', field: 'shard' }): Shard {
  const s = shard as Partial<Shard> | null;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    Number.isInteger(s.index) &&
    Number.isInteger(s.count) &&
    s.count! >= 1 &&
    s.index! >= 0 &&
    s.index! < s.count!;
  if (!ok)
    throw badInput(
      `a shard is {index, count} with integers 0 <= index < count (e.g. {index: 0, count: 4} for the first of four), got ${JSON.stringify(shard)}`,
      where,
    );
  return { index: s.index!, count: s.count! };
}

export function extractEntry(o: ExtractOutcome): ExtractEntry {
  return {
    source: o.name,
    key: o.key,
    dir: o.dir,
    cached: o.cached,
    complete: o.complete,
    chunks: o.chunks,
    extracted: o.extracted,
    seconds: o.seconds,
    itemsPerSecond: o.extracted && o.seconds > 0 ? o.extracted / o.seconds : null,
    provider: o.provider ?? null,
  };
}

export async function extractExperiment(
  experiment: Experiment,
  baseDir: string,
  opts: ExtractExperimentOptions,
): Promise<ExtractExperimentResult> {
  const runId = opts.id ?? '';
  const emit = opts.sink;
  const log = (message: string): void =>
    emit({ type: 'log', ...(runId ? { runId } : {}), level: 'info', message, timestamp: Date.now() });
  const cacheRoot = path.join(path.resolve(opts.workspaceDir), FEATURE_CACHE_DIR);
  // Only the built-in teacher needs tfjs (to be built the first time); user models do not.
  if (experiment.pretrained.some((s) => 'builtin' in s)) await initBackend(opts.backend ?? experiment.backend, log);
  // The student's inputs are not needed here: its own preprocessing (a pretrained student's folder) is not read.
  const ds = await loadExperimentDataset(
    { dataset: experiment.dataset, pretrained: experiment.pretrained },
    baseDir,
    log,
  );
  const { refs } = await onnxSourceRefs(experiment.pretrained, ds, baseDir, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    log,
    onBuildProgress: (label, step, total) =>
      emit({ type: 'progress', runId, label, step, steps: total, job: 0, jobs: 0, fraction: 0, etaSeconds: null }),
  });
  if (!refs.length) {
    log('nothing to extract: the experiment has no onnx or builtin sources');
    return { cacheRoot, entries: [] };
  }
  const entries: ExtractEntry[] = [];
  for (const [i, ref] of refs.entries()) {
    const o = await extractOnnx(ref, ds, {
      cacheRoot,
      ...(opts.shard ? { shard: opts.shard } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      log,
      // The fraction is of the whole extraction: sources count equally.
      onProgress: (p) => emit(extractionProgressEvent(runId, p, (i + (p.total ? p.done / p.total : 1)) / refs.length)),
    });
    const entry = extractEntry(o);
    entries.push(entry);
    opts.onEntry?.(entry, o);
  }
  return { cacheRoot, entries };
}
