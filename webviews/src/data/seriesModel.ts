/**
 * A run's curves (full-resolution columns, `CurveColumns`) and the downsampled `SeriesData` a
 * webview receives. Used by the extension host while a run streams and by the HTML report; pure
 * (no DOM, no Node).
 */
import type { CurveRef, SeriesData } from '../contract';
import { toCsv, type CsvCell } from './csv';
import { CurveColumns, type CurveSeries } from '../../../sidecar/src/runs/curves';
import type { MetricsRow } from '../../../sidecar/src/runs/records';
import { lttb } from './lttb';

/**
 * Values to 6 significant digits: what a chart or its tooltip can show, and half the JSON of a
 * double's 17 (the message to the webview is mostly these numbers). CSV exports come from the
 * host's full-precision columns, not from here.
 */
export function roundForDisplay(values: number[]): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== 0 && Number.isFinite(v)) values[i] = Number(v.toPrecision(6));
  }
}

export class SeriesModel {
  private readonly curves = new CurveColumns();

  /** Adds rows; returns the ids of the series they touched. */
  add(rows: Iterable<MetricsRow>): Set<string> {
    return this.curves.add(rows);
  }

  /** Takes in whole series read from the column cache; returns their ids. */
  load(series: Iterable<CurveSeries>): Set<string> {
    return this.curves.load(series);
  }

  /** Forgets every series (the metrics file was replaced). */
  clear(): void {
    this.curves.clear();
  }

  ids(): string[] {
    return this.curves.all().map((s) => s.id);
  }

  /** Rows held for a series (full resolution). */
  rows(id: string): number {
    return this.curves.get(id)?.rows ?? 0;
  }

  /** The series as sent to a webview: each curve downsampled to at most `maxPoints`. */
  view(id: string, maxPoints: number): SeriesData | undefined {
    const s = this.curves.get(id);
    if (!s) return undefined;
    const step = s.step.view();
    const curves: SeriesData['curves'] = {};
    for (const [key, col] of s.columns) {
      const c = lttb(step, col.view(), maxPoints);
      roundForDisplay(c.value);
      curves[key] = c;
    }
    return { id: s.id, method: s.method, seed: s.seed, phase: s.phase, beta: s.beta, rows: step.length, curves };
  }

  /**
   * CSV of the given curves with every logged row (the same columns as the webview's own CSV;
   * gaps are empty cells).
   */
  curvesCsv(refs: readonly CurveRef[]): string {
    const curves = this.curves;
    function* rows(): Generator<CsvCell[]> {
      for (const ref of refs) {
        const s = curves.get(ref.series);
        const col = s?.columns.get(ref.curve)?.view();
        if (!s || !col) continue;
        const step = s.step.view();
        for (let i = 0; i < step.length; i++) yield [s.method, s.seed, s.phase, s.beta, ref.curve, step[i], col[i]];
      }
    }
    return toCsv(['method', 'seed', 'phase', 'beta', 'curve', 'step', 'value'], rows());
  }

  views(maxPoints: number): SeriesData[] {
    return this.ids().map((id) => this.view(id, maxPoints)!);
  }
}
