/**
 * What Extract Features and Export Model to ONNX show: the (method, seed) choices of a completed
 * run from its summary.json, extraction progress and summaries, the export's inference cost.
 * Free of `vscode`; every number comes from the run store or the sidecar's answer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProgressEvent, RunSummary } from '../../../core/common/protocol/events';
import type { ExportReport, ExtractEntry } from '../../../core/common/protocol/rpc';
import { durationText } from './format';

export interface ExportChoice {
  method: string;
  seed: number;
  /** Test accuracy of this seed, when the summary has it. */
  accuracy?: number;
}

/** The run's summary.json, or undefined when it is missing or unreadable. */
export function readRunSummary(runDir: string): RunSummary | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
    return s && typeof s === 'object' && s.methods && typeof s.methods === 'object' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Every (method, seed) the summary reports, methods in file order, seeds ascending. */
export function exportChoices(summary: Pick<RunSummary, 'methods'>): ExportChoice[] {
  return Object.entries(summary.methods).flatMap(([method, m]) =>
    Object.entries(m.test_accuracy?.per_seed ?? {})
      .map(([seed, accuracy]) => ({ method, seed: Number(seed), accuracy }))
      .filter((c) => Number.isInteger(c.seed) && c.seed >= 0)
      .sort((a, b) => a.seed - b.seed),
  );
}

/** `<run>/<method>-seed-<s>.onnx` */
export function defaultExportPath(runDir: string, c: Pick<ExportChoice, 'method' | 'seed'>): string {
  return path.join(runDir, `${c.method.replace(/[^\w.-]/g, '_')}-seed-${c.seed}.onnx`);
}

function msText(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : ms >= 0.01 ? `${ms.toFixed(3)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

function countText(n: number | null): string {
  return n === null ? '?' : n.toLocaleString('en-US');
}

/** One line: where it went, its size, its cost next to the pre-trained models'. */
export function exportSummaryText(r: ExportReport): string {
  const [small, ...big] = r.cost.models;
  const vs = big.map(
    (m) =>
      `${m.name}: ${countText(m.parameters)} parameters, ${msText(m.msPerExample)}/example${small && small.msPerExample > 0 ? ` (${(m.msPerExample / small.msPerExample).toFixed(1)}× slower)` : ''}`,
  );
  return [
    `exported ${r.method} seed ${r.seed} to ${r.file}: ${countText(r.parameters)} parameters, ${small ? msText(small.msPerExample) : '?'}/example in onnxruntime (${r.cost.provider})`,
    vs.length ? `vs ${vs.join('; ')}` : '',
    `max |logit difference| to the trained model ${r.verification.maxAbsDiff.toExponential(1)} on ${r.verification.examples} test examples`,
  ]
    .filter(Boolean)
    .join('. ');
}

/** One log line per model of the cost table. */
export function costLines(r: ExportReport): string[] {
  return r.cost.models.map(
    (m) => `  ${m.name}: ${countText(m.parameters)} parameters, ${m.msPerExample.toFixed(4)} ms/example`,
  );
}

/** `extracting vit (cpu): 120/400 · 85.3 items/s · 3 s left` */
export function extractProgressText(
  e: Pick<ProgressEvent, 'label' | 'step' | 'steps' | 'itemsPerSecond' | 'etaSeconds'>,
): string {
  const parts = [`${e.label}: ${e.step}/${e.steps}`];
  if (e.itemsPerSecond !== undefined && e.itemsPerSecond > 0) parts.push(`${e.itemsPerSecond.toFixed(1)} items/s`);
  if (e.etaSeconds !== null && e.etaSeconds !== undefined) parts.push(`${durationText(e.etaSeconds)} left`);
  return parts.join(' · ');
}

/** `vit: 24 examples extracted in 1 s (40.0 items/s, cpu); vit-pooled: cached` */
export function extractSummaryText(entries: ExtractEntry[]): string {
  if (!entries.length) return 'nothing to extract: the experiment has no onnx or builtin sources';
  return entries
    .map((e) => {
      if (e.cached) return `${e.source}: already cached`;
      const rate =
        e.itemsPerSecond !== null
          ? `, ${e.itemsPerSecond.toFixed(1)} items/s${e.provider ? ` on ${e.provider}` : ''}`
          : '';
      const what = `${e.extracted} example${e.extracted === 1 ? '' : 's'} extracted in ${durationText(e.seconds)}${rate}`;
      return e.complete
        ? `${e.source}: ${what}`
        : `${e.source}: ${what}; ${e.chunks.present} of ${e.chunks.total} chunks present (other shards pending)`;
    })
    .join('; ');
}
