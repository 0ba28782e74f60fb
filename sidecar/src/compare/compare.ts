/**
 * Compares runs (e.g. one per pre-trained source combination, the paper's figure 2c) as one
 * methods × runs table, and reports, per method, the Pearson correlation across runs between
 * its test accuracy and the linear-probe accuracy of the run's pre-trained features (the
 * paper's figure 3 statistic: how much a method gains from better pre-trained models).
 */
import * as path from 'node:path';
import type { RunSummary } from '../../../core/common/protocol/events';
import { readRunStatus, readSummary } from '../../../core/node/runs/store';
import { AftError, badInput } from '../../../core/common/util/errors';
import { correlate, type Correlation } from '../../../core/common/view/correlation';

export interface ComparedRun {
  runId: string;
  runDir: string;
  experiment: string;
  sources: string[];
  /** Linear probe of the run's ψ: the concatenation when there are several sources. */
  probeAccuracy?: number;
  methods: Record<string, { mean: number; se: number; beta: number }>;
  /**
   * Logistic regression on raw features (fig. 6a), by source (and `ALL_SOURCES` for their
   * concatenation): ψ as it is, and ψ ⊙ ρ per method that learned ρ.
   */
  rawProbes: Record<string, { psi?: number; rho: Record<string, number> }>;
}

export interface Comparison {
  runs: ComparedRun[];
  methods: string[];
  /** Pearson r of method accuracy vs probe accuracy across runs (null, with why, when undefined). */
  correlation: Record<string, Correlation>;
  /** Runs named but not compared (damaged, not completed, not runs), each saying why. */
  skipped: { runDir: string; reason: string }[];
}

/** Pearson's r; null with fewer than 3 pairs or no variance (`correlate` says which). */
export function pearson(x: number[], y: number[]): number | null {
  return correlate(x, y).r;
}

function probeOf(s: RunSummary): number | undefined {
  if (s.linear_probe_concat !== undefined) return s.linear_probe_concat;
  return s.sources.length === 1 ? s.sources[0].linear_probe_accuracy : undefined;
}

/** One named run as the table shows it, or a bad-input error saying why it cannot be. */
function comparedRun(d: string): ComparedRun {
  const dir = path.resolve(d);
  let summary: RunSummary | undefined;
  try {
    const status = readRunStatus(dir);
    if (status.state !== 'completed')
      throw badInput(
        `run is ${status.state}${status.message ? ` (${status.message})` : ''}; only completed runs can be compared`,
        { file: dir },
      );
    summary = readSummary(dir);
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? (e as { code: string }).code : undefined;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw badInput('not a run folder (no status.json)', { file: dir });
    throw e;
  }
  if (!summary) throw badInput('run has no summary.json', { file: dir });
  const probe = probeOf(summary);
  return {
    runId: summary.runId,
    runDir: dir,
    experiment: summary.experiment,
    sources: summary.sources.map((s) => s.name),
    ...(probe !== undefined ? { probeAccuracy: probe } : {}),
    methods: Object.fromEntries(
      Object.entries(summary.methods).map(([k, m]) => [
        k,
        { mean: m.test_accuracy.mean, se: m.test_accuracy.se, beta: m.beta },
      ]),
    ),
    rawProbes: rawProbesOf(summary),
  };
}

/** What the compare table calls all sources concatenated (no source name has a space). */
export const ALL_SOURCES = 'all sources';

function rawProbesOf(s: RunSummary): ComparedRun['rawProbes'] {
  const concat = Object.entries(s.methods).flatMap(([name, m]) =>
    m.raw_probe_rho_concat !== undefined ? [[name, m.raw_probe_rho_concat] as const] : [],
  );
  const all: ComparedRun['rawProbes'] =
    s.raw_probe_concat !== undefined || concat.length
      ? {
          [ALL_SOURCES]: {
            ...(s.raw_probe_concat !== undefined ? { psi: s.raw_probe_concat } : {}),
            rho: Object.fromEntries(concat),
          },
        }
      : {};
  return {
    ...Object.fromEntries(
      s.sources.map((src) => [
        src.name,
        {
          ...(src.raw_probe_accuracy !== undefined ? { psi: src.raw_probe_accuracy } : {}),
          rho: Object.fromEntries(
            Object.entries(s.methods).flatMap(([name, m]) => {
              const v = m.raw_probe_rho_by_source?.[src.name];
              return v !== undefined ? [[name, v]] : [];
            }),
          ),
        },
      ]),
    ),
    ...all,
  };
}

/**
 * Rows of the fig. 6a probes across runs: per source, ψ, then ψ ⊙ ρ of each method that has it
 * in any run; '-' where a run lacks it.
 */
function rawProbeRows(c: Comparison, pct: (v: number) => string): string[][] {
  const sources = [...new Set(c.runs.flatMap((r) => Object.keys(r.rawProbes)))];
  return sources.flatMap((src) => {
    const cell = (v: number | undefined): string => (v !== undefined ? pct(v) : '-');
    const methods = [...new Set(c.runs.flatMap((r) => Object.keys(r.rawProbes[src]?.rho ?? {})))];
    const psiRow = [`raw probe ${src}: ψ`, ...c.runs.map((r) => cell(r.rawProbes[src]?.psi)), ''];
    if (psiRow.slice(1).every((x) => x === '-' || x === '') && !methods.length) return [];
    return [
      psiRow,
      ...methods.map((m) => [`raw probe ${src}: ψ⊙ρ ${m}`, ...c.runs.map((r) => cell(r.rawProbes[src]?.rho[m])), '']),
    ];
  });
}

/**
 * The runs named, compared. A run that cannot be compared (damaged, not completed, not a run)
 * is left out and listed in `skipped` with the reason; when none can be, the error says why.
 */
export function compareRuns(dirs: string[]): Comparison {
  if (dirs.length === 0) throw badInput('name at least one run folder to compare');
  const runs: ComparedRun[] = [];
  const skipped: Comparison['skipped'] = [];
  const errors: AftError[] = [];
  for (const d of dirs) {
    try {
      runs.push(comparedRun(d));
    } catch (e) {
      if (!(e instanceof AftError)) throw e;
      errors.push(e);
      skipped.push({ runDir: path.resolve(d), reason: e.format() });
    }
  }
  if (runs.length === 0) {
    if (errors.length === 1) throw errors[0];
    throw badInput(
      `none of the ${dirs.length} runs can be compared`,
      undefined,
      skipped.map((x) => x.reason),
    );
  }
  const methods = [...new Set(runs.flatMap((r) => Object.keys(r.methods)))];
  const correlation: Comparison['correlation'] = {};
  for (const m of methods) {
    const pts = runs.filter((r) => r.methods[m] && r.probeAccuracy !== undefined);
    correlation[m] = correlate(
      pts.map((r) => r.probeAccuracy!),
      pts.map((r) => r.methods[m].mean),
    );
  }
  return { runs, methods, correlation, skipped };
}

export function comparisonTable(c: Comparison): string {
  const pct = (v: number): string => (v * 100).toFixed(2);
  const header = [
    'method',
    ...c.runs.map((r) => `${r.runId} [${r.sources.join('+') || 'no sources'}]`),
    'r(acc, probe)',
  ];
  const probeRow = [
    'linear probe',
    ...c.runs.map((r) => (r.probeAccuracy !== undefined ? pct(r.probeAccuracy) : '-')),
    '',
  ];
  const rows = c.methods.map((m) => [
    m,
    ...c.runs.map((r) => (r.methods[m] ? `${pct(r.methods[m].mean)} ± ${pct(r.methods[m].se)}` : '-')),
    c.correlation[m].r !== null
      ? `${c.correlation[m].r.toFixed(3)} (n=${c.correlation[m].n})`
      : `n/a: ${c.correlation[m].why ?? 'undefined'}`,
  ]);
  const raw = rawProbeRows(c, pct);
  const all = [header, probeRow, ...raw, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((x, i) => x.padEnd(widths[i])).join('  ');
  return [
    fmt(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    fmt(probeRow),
    ...raw.map(fmt),
    ...rows.map(fmt),
  ].join('\n');
}
