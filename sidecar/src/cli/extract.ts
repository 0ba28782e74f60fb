/**
 * `aft extract FILE [--shard i/n]`: extracts (and caches) the features of an experiment's ONNX
 * sources without training. With `--shard i/n` (0-based, as Slurm array indices and Kubernetes
 * completion indices are) it extracts every n-th chunk from the i-th; whichever shard completes
 * the set merges it into the cache, and a plain `aft extract FILE` finishes whatever is missing.
 */
import * as path from 'node:path';
import { loadExperimentDataset } from '../data/load';
import type { LoadedExperiment } from '../experiment/load';
import { FEATURE_CACHE_DIR } from '../features/cache';
import { extractOnnx, type ExtractOutcome } from '../features/onnxSource';
import { onnxSourceRefs } from '../features/sources';
import type { RunEvent } from '../protocol/events';
import { initBackend } from '../runtime/tf';
import { badInput, CancelledError } from '../util/errors';
import { TerminalReporter } from './terminal';

/** The final line of `aft extract --json`, one per source. */
export interface ExtractResultLine {
  type: 'extract-result';
  source: string;
  key: string;
  dir: string;
  cached: boolean;
  complete: boolean;
  chunks: { present: number; total: number };
  extracted: number;
  seconds: number;
  itemsPerSecond: number | null;
  provider: string | null;
}

export function parseShard(v: string | undefined): { index: number; count: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw badInput(`--shard expects i/n with 0 <= i < n (e.g. 0/4 for the first of four), got '${v}'`);
  return { index, count };
}

function describe(o: ExtractOutcome, shard: { index: number; count: number } | undefined): string {
  if (o.cached) return `${o.name}: cached (${o.dir})`;
  const rate = o.extracted ? `, ${(o.extracted / o.seconds).toFixed(1)} examples/s on ${o.provider}` : '';
  if (o.complete) return `${o.name}: extracted ${o.extracted} examples in ${o.seconds.toFixed(1)} s${rate}; cached in ${o.dir}`;
  return `${o.name}: shard ${shard?.index}/${shard?.count} done (${o.extracted} examples${rate}); ${o.chunks.present} of ${o.chunks.total} chunks present. Run the other shards; the last to finish merges them (or run \`aft extract\` without --shard)`;
}

export async function extractCommand(loaded: LoadedExperiment, opts: { shard?: string; workspace?: string; json?: boolean; verbose?: boolean }): Promise<number> {
  const shard = parseShard(opts.shard);
  const exp = loaded.experiment;
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const reporter = new TerminalReporter(process.stderr, opts.verbose);
  const emit = (e: RunEvent): void => (opts.json ? void process.stdout.write(JSON.stringify(e) + '\n') : reporter.handle(e));
  const log = (message: string): void => emit({ type: 'log', level: 'info', message, timestamp: Date.now() });
  try {
    // Only the built-in teacher needs tfjs (to be built the first time); user models do not.
    if (exp.pretrained.some((s) => 'builtin' in s)) await initBackend(exp.backend, log);
    const ds = await loadExperimentDataset(exp, loaded.baseDir, log);
    const { refs } = await onnxSourceRefs(exp.pretrained, ds, loaded.baseDir, {
      signal: controller.signal,
      log,
      onBuildProgress: (label, step, total) => emit({ type: 'progress', runId: '', label, step, steps: total, job: 0, jobs: 0, fraction: 0, etaSeconds: null }),
    });
    if (!refs.length) {
      log('nothing to extract: the experiment has no onnx or builtin sources');
      return 0;
    }
    const cacheRoot = path.join(path.resolve(opts.workspace ?? process.cwd()), FEATURE_CACHE_DIR);
    for (const ref of refs) {
      const o = await extractOnnx(ref, ds, {
        cacheRoot,
        ...(shard ? { shard } : {}),
        signal: controller.signal,
        log,
        onProgress: (p) => emit({ type: 'progress', runId: '', label: `extracting ${p.source} (${p.provider})`, step: p.done, steps: p.total, job: 0, jobs: 0, fraction: 0, etaSeconds: p.etaSeconds, itemsPerSecond: p.itemsPerSecond }),
      });
      reporter.done();
      if (opts.json) {
        const line: ExtractResultLine = { type: 'extract-result', source: o.name, key: o.key, dir: o.dir, cached: o.cached, complete: o.complete, chunks: o.chunks, extracted: o.extracted, seconds: o.seconds, itemsPerSecond: o.extracted ? o.extracted / o.seconds : null, provider: o.provider ?? null };
        process.stdout.write(JSON.stringify(line) + '\n');
      } else process.stdout.write(describe(o, shard) + '\n');
    }
    return 0;
  } catch (e) {
    reporter.done();
    if (e instanceof CancelledError) {
      process.stderr.write('cancelled; finished chunks are kept and the next `aft extract` or run resumes from them\n');
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
