/**
 * A study's figure as data, from its values' run summaries: test accuracy (mean ± SE over seeds)
 * per method per value, mean ρ per source (the noise study's fig 6c), and for a sources study each
 * method's accuracy against the source's linear probe with Pearson's r (fig 3). Shared by the
 * study dashboard, `aft report` and the CLI's table. Pure (no Node, no DOM).
 */
import type { RunSummary } from '../protocol/events';
import type { StudyKind, StudyRecord } from '../runs/study';
import { correlate, type Correlation } from './correlation';
import { toCsv } from './csv';

export interface SeedStat {
  mean: number;
  se: number;
  perSeed: { seed: string; value: number }[];
}

/** A value as the figure needs it: its run's summary once that run has completed. */
export interface FigureValue {
  index: number;
  label: string;
  x?: number;
  summary?: RunSummary;
}

export interface StudyFigure {
  kind: StudyKind;
  vary: string;
  /** How it is drawn: accuracy against a numeric value, against the probe, or bars per value. */
  shape: 'line' | 'scatter' | 'bars';
  title: string;
  xLabel: string;
  values: { index: number; label: string; x?: number; done: boolean }[];
  methods: string[];
  /** `accuracy[method][i]`: the method's test accuracy at value i (null: not run there, or not yet). */
  accuracy: Record<string, (SeedStat | null)[]>;
  /** Mean learned ρ of each source per value, per method that learns ρ. */
  rho: { method: string; source: string; values: (number | null)[] }[];
  /** A sources study: the linear-probe accuracy of each value's source, and r per method. */
  probe?: { x: (number | null)[]; r: Record<string, Correlation> };
}

const TITLES: Record<StudyKind, string> = {
  noise: 'Test accuracy against the width of the noise source (paper fig 6b)',
  sources: "Test accuracy against each source's linear-probe accuracy (paper fig 3)",
  subsets: 'Test accuracy per set of sources (paper fig 2c/d)',
  ablation: 'Test accuracy per method variant (paper fig 7b)',
  field: 'Test accuracy per value',
};

export function studyFigure(record: Pick<StudyRecord, 'kind' | 'vary'>, values: readonly FigureValue[]): StudyFigure {
  const methods: string[] = [];
  for (const v of values)
    for (const m of Object.keys(v.summary?.methods ?? {})) if (!methods.includes(m)) methods.push(m);
  const accuracy: Record<string, (SeedStat | null)[]> = {};
  for (const m of methods)
    accuracy[m] = values.map((v) => {
      const t = v.summary?.methods[m]?.test_accuracy;
      if (!t) return null;
      return {
        mean: t.mean,
        se: t.se,
        perSeed: Object.entries(t.per_seed).map(([seed, value]) => ({ seed, value })),
      };
    });
  const rho: StudyFigure['rho'] = [];
  for (const m of methods) {
    const sources: string[] = [];
    for (const v of values)
      for (const s of Object.keys(v.summary?.methods[m]?.rho_mean_by_source ?? {}))
        if (!sources.includes(s)) sources.push(s);
    for (const s of sources)
      rho.push({
        method: m,
        source: s,
        values: values.map((v) => v.summary?.methods[m]?.rho_mean_by_source?.[s] ?? null),
      });
  }
  const numeric = values.length > 0 && values.every((v) => v.x !== undefined);
  const shape =
    record.kind === 'sources'
      ? 'scatter'
      : record.kind === 'noise' || (record.kind === 'field' && numeric)
        ? 'line'
        : 'bars';
  const fig: StudyFigure = {
    kind: record.kind,
    vary: record.vary,
    shape,
    title: TITLES[record.kind],
    xLabel: record.kind === 'noise' ? `${record.vary} (noise width)` : record.vary,
    values: values.map((v) => ({
      index: v.index,
      label: v.label,
      ...(v.x !== undefined ? { x: v.x } : {}),
      done: v.summary !== undefined,
    })),
    methods,
    accuracy,
    rho,
  };
  if (record.kind === 'sources') {
    // The value's one source: its probe is what the run's summary measured for it.
    const x = values.map((v) => v.summary?.sources.find((s) => s.name === v.label)?.linear_probe_accuracy ?? null);
    const r: Record<string, Correlation> = {};
    for (const m of methods)
      r[m] = correlate(
        x.map((p) => p ?? NaN),
        accuracy[m].map((a) => a?.mean ?? NaN),
      );
    fig.probe = { x, r };
  }
  return fig;
}

/** The figure's numbers as CSV: one row per value and method (the figure's CSV export). */
export function studyFigureCsv(fig: StudyFigure): string {
  const rows: (string | number)[][] = [];
  for (const v of fig.values)
    for (const m of fig.methods) {
      const a = fig.accuracy[m][v.index];
      if (!a) continue;
      const rhos = fig.rho.filter((r) => r.method === m).map((r) => `${r.source}=${r.values[v.index] ?? ''}`);
      rows.push([
        v.index,
        v.label,
        v.x ?? '',
        m,
        a.mean,
        a.se,
        a.perSeed.length,
        fig.probe?.x[v.index] ?? '',
        rhos.join(' '),
      ]);
    }
  return toCsv(
    [
      'value_index',
      'value',
      'x',
      'method',
      'test_accuracy_mean',
      'test_accuracy_se',
      'seeds',
      'linear_probe',
      'rho_mean',
    ],
    rows,
  );
}

/**
 * The figure as a text table: a row per value, a column per method (mean ± SE in %), then mean ρ.
 * When each value ran one method (an ablation of variants), one accuracy column and that
 * method's ρ per source, instead of a diagonal of mostly empty cells.
 */
export function studyFigureTable(fig: StudyFigure): string[][] {
  const pct = (v: number): string => (v * 100).toFixed(2);
  const ran = (i: number): string[] => fig.methods.filter((m) => fig.accuracy[m][i]);
  if (fig.methods.length > 1 && fig.values.every((v) => ran(v.index).length <= 1)) {
    const sources = [...new Set(fig.rho.map((r) => r.source))];
    return [
      [fig.vary, 'method', 'test accuracy %', ...sources.map((s) => `ρ ${s}`)],
      ...fig.values.map((v) => {
        const m = ran(v.index)[0];
        const a = m !== undefined ? fig.accuracy[m][v.index] : null;
        return [
          v.label,
          m ?? '–',
          a ? `${pct(a.mean)} ± ${pct(a.se)}` : v.done ? '–' : 'not run',
          ...sources.map((s) => {
            const x = fig.rho.find((r) => r.method === m && r.source === s)?.values[v.index];
            return x === null || x === undefined ? '–' : x.toFixed(3);
          }),
        ];
      }),
    ];
  }
  const rhoCols = fig.rho.map((r) => ({ head: `ρ ${r.source} (${r.method})`, r }));
  const head = [
    fig.vary,
    ...(fig.probe ? ['probe %'] : []),
    ...fig.methods.map((m) => `${m} %`),
    ...rhoCols.map((c) => c.head),
  ];
  const rows = fig.values.map((v) => [
    v.label,
    ...(fig.probe ? [fig.probe.x[v.index] === null ? '–' : pct(fig.probe.x[v.index] as number)] : []),
    ...fig.methods.map((m) => {
      const a = fig.accuracy[m][v.index];
      return a ? `${pct(a.mean)} ± ${pct(a.se)}` : v.done ? '–' : 'not run';
    }),
    ...rhoCols.map((c) => {
      const x = c.r.values[v.index];
      return x === null ? '–' : x.toFixed(3);
    }),
  ]);
  const out = [head, ...rows];
  if (fig.probe)
    out.push([
      'Pearson r',
      '',
      ...fig.methods.map((m) => {
        const c = fig.probe!.r[m];
        return c.r === null ? `– (${c.why ?? ''})` : c.r.toFixed(3);
      }),
      ...rhoCols.map(() => ''),
    ]);
  return out;
}
