/**
 * `aft extract FILE [--shard i/n]`: extracts (and caches) the features of an experiment's ONNX
 * sources without training. With `--shard i/n` (0-based, as Slurm array indices and Kubernetes
 * completion indices are) it extracts every n-th chunk from the i-th; whichever shard completes
 * the set merges it into the cache, and a plain `aft extract FILE` finishes whatever is missing.
 */
import type { LoadedExperiment } from '../experiment/load';
import { checkShard, extractExperiment } from '../features/extractExperiment';
import type { ExtractOutcome } from '../features/onnxSource';
import type { RunEvent } from '../../../core/common/protocol/events';
import type { ExtractEntry, Shard } from '../../../core/common/protocol/rpc';
import { badInput, CancelledError, describeError } from '../../../core/common/util/errors';
import { TerminalReporter } from './terminal';

/** The final line of `aft extract --json`, one per source. */
export type ExtractResultLine = { type: 'extract-result' } & ExtractEntry;

export function parseShard(v: string | undefined): Shard | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  const message = `--shard expects i/n with 0 <= i < n (e.g. 0/4 for the first of four), got '${v}'`;
  if (!m) throw badInput(message);
  try {
    return checkShard({ index: Number(m[1]), count: Number(m[2]) });
  } catch {
    throw badInput(message);
  }
}

function describe(o: ExtractOutcome, shard: Shard | undefined): string {
  if (o.cached) return `${o.name}: cached (${o.dir})`;
  const rate = o.extracted ? `, ${(o.extracted / o.seconds).toFixed(1)} examples/s on ${o.provider}` : '';
  if (o.complete)
    return `${o.name}: extracted ${o.extracted} examples in ${o.seconds.toFixed(1)} s${rate}; cached in ${o.dir}`;
  return `${o.name}: shard ${shard?.index}/${shard?.count} done (${o.extracted} examples${rate}); ${o.chunks.present} of ${o.chunks.total} chunks present. Run the other shards; the last to finish merges them (or run \`aft extract\` without --shard)`;
}

export async function extractCommand(
  loaded: LoadedExperiment,
  opts: { shard?: string; workspace?: string; json?: boolean; verbose?: boolean },
): Promise<number> {
  const shard = parseShard(opts.shard);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const reporter = new TerminalReporter(process.stderr, opts.verbose);
  const emit = (e: RunEvent): void =>
    opts.json ? void process.stdout.write(JSON.stringify(e) + '\n') : reporter.handle(e);
  try {
    await extractExperiment(loaded.experiment, loaded.baseDir, {
      workspaceDir: opts.workspace ?? process.cwd(),
      ...(shard ? { shard } : {}),
      signal: controller.signal,
      sink: emit,
      onEntry: (entry, outcome) => {
        reporter.done();
        if (opts.json) {
          const line: ExtractResultLine = { type: 'extract-result', ...entry };
          process.stdout.write(JSON.stringify(line) + '\n');
        } else process.stdout.write(describe(outcome, shard) + '\n');
      },
    });
    return 0;
  } catch (e) {
    reporter.done();
    if (e instanceof CancelledError) {
      process.stderr.write('cancelled; finished chunks are kept and the next `aft extract` or run resumes from them\n');
      return 1;
    }
    // The error goes to stderr (cliEntry); with --json, also as the last event on stdout.
    if (opts.json) emit({ type: 'log', level: 'error', message: describeError(e), timestamp: Date.now() });
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
