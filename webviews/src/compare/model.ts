/**
 * The comparison's numbers, pure so they are unit-tested: the methods × runs table and the
 * scatter of each method's accuracy against the runs' linear-probe accuracy, with Pearson's r.
 */
import type { CompareRun } from '../../../core/common/protocol/webview';
import { pearson } from '../data/stats';

/**
 * `psi`: the probe of all the run's sources concatenated (a single source's own probe), as
 * `aft compare` correlates; `max`: the run's best single source; otherwise a source's name.
 */
export type ProbeChoice = string;

export function probeAccuracy(run: CompareRun, choice: ProbeChoice): number {
  const sources = run.summary?.sources ?? [];
  if (choice === 'psi')
    return run.summary?.linear_probe_concat ?? (sources.length === 1 ? (sources[0].linear_probe_accuracy ?? NaN) : NaN);
  const accs = sources
    .filter((s) => choice === 'max' || s.name === choice)
    .map((s) => s.linear_probe_accuracy ?? NaN)
    .filter(Number.isFinite);
  return accs.length ? Math.max(...accs) : NaN;
}

export function compareMethods(runs: readonly CompareRun[]): string[] {
  return [...new Set(runs.flatMap((r) => Object.keys(r.summary?.methods ?? {})))];
}

export function probeSources(runs: readonly CompareRun[]): string[] {
  return [
    ...new Set(
      runs.flatMap((r) =>
        (r.summary?.sources ?? []).filter((s) => s.linear_probe_accuracy !== undefined).map((s) => s.name),
      ),
    ),
  ];
}

export interface ScatterData {
  points: { method: string; run: string; x: number; y: number; se: number }[];
  r: Map<string, number>;
}

export function scatterData(runs: readonly CompareRun[], choice: ProbeChoice): ScatterData {
  const points: ScatterData['points'] = [];
  for (const run of runs) {
    const x = probeAccuracy(run, choice);
    for (const [method, m] of Object.entries(run.summary?.methods ?? {}))
      points.push({ method, run: run.runId, x, y: m.test_accuracy.mean, se: m.test_accuracy.se });
  }
  const r = new Map<string, number>();
  for (const method of compareMethods(runs)) {
    const ps = points.filter((p) => p.method === method);
    r.set(
      method,
      pearson(
        ps.map((p) => p.x),
        ps.map((p) => p.y),
      ),
    );
  }
  return { points, r };
}

/** One row of the fig. 6a table: a run's source (or all its sources), raw-scale probe of ψ and of ψ ⊙ ρ per method. */
export interface RawProbeRow {
  run: string;
  /** A source's name, or `all sources` (the concatenation). */
  source: string;
  psi: number;
  /** Method → probe accuracy on ψ ⊙ ρ of the ρ it learned. */
  rho: Record<string, number>;
}

export const ALL_SOURCES = 'all sources';

/**
 * The raw-scale probes (paper fig. 6a: logistic regression that sees feature scales) of the
 * runs' summaries: a row per source and one for all sources together, where they were measured;
 * the methods that learned a ρ, in the order they first appear.
 */
export function rawProbeRows(runs: readonly CompareRun[]): { methods: string[]; rows: RawProbeRow[] } {
  const methods: string[] = [];
  const rows: RawProbeRow[] = [];
  for (const run of runs) {
    const s = run.summary;
    if (!s) continue;
    const learned = Object.entries(s.methods).filter(
      ([, m]) => m.raw_probe_rho_by_source !== undefined || m.raw_probe_rho_concat !== undefined,
    );
    for (const [name] of learned) if (!methods.includes(name)) methods.push(name);
    const row = (
      source: string,
      psi: number | undefined,
      rho: (m: (typeof learned)[number][1]) => number | undefined,
    ) => {
      if (psi === undefined) return;
      rows.push({
        run: run.runId,
        source,
        psi,
        rho: Object.fromEntries(
          learned.flatMap(([name, m]) => {
            const v = rho(m);
            return v === undefined ? [] : [[name, v]];
          }),
        ),
      });
    };
    for (const src of s.sources) row(src.name, src.raw_probe_accuracy, (m) => m.raw_probe_rho_by_source?.[src.name]);
    row(ALL_SOURCES, s.raw_probe_concat, (m) => m.raw_probe_rho_concat);
  }
  return { methods, rows };
}
