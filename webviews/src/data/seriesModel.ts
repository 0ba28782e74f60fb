/**
 * Accumulates metrics rows into full-resolution columns per series (one training job) and
 * produces the downsampled `SeriesData` a webview receives. Used by the extension host while a
 * run streams and by the HTML report; pure (no DOM, no Node).
 */
import { METRICS, rhoCurveKey, seriesId, type SeriesData } from '../contract';
import type { MetricsRow } from '../../../sidecar/src/runs/records';
import { lttb } from './lttb';

/** A growable column of float64s (amortised doubling; a 50,000-row series is 400 kB). */
class Column {
  private data = new Float64Array(64);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

class Series {
  readonly step = new Column();
  readonly columns = new Map<string, Column>();

  constructor(
    readonly id: string,
    readonly method: string,
    readonly seed: number,
    readonly phase: 'tune' | 'final',
    readonly beta: number,
  ) {}

  add(row: MetricsRow): void {
    const n = this.step.length;
    this.step.push(row.step);
    for (const m of METRICS) this.column(m, n).push(row[m]);
    let rhoCount = 0;
    if (row.rho) {
      for (const source in row.rho) {
        this.column(rhoCurveKey(source), n).push(row.rho[source].mean);
        rhoCount++;
      }
    }
    // A source missing from this row (or a row without ρ) leaves a gap in its curve.
    if (this.columns.size > METRICS.length + rhoCount) {
      for (const col of this.columns.values()) if (col.length === n) col.push(NaN);
    }
  }

  /** The column for a curve; one that starts late (a source first reported mid-run) begins with gaps. */
  private column(key: string, n: number): Column {
    let col = this.columns.get(key);
    if (!col) {
      col = new Column();
      for (let i = 0; i < n; i++) col.push(NaN);
      this.columns.set(key, col);
    }
    return col;
  }
}

export class SeriesModel {
  private readonly series = new Map<string, Series>();

  /** Adds rows; returns the ids of the series they touched. */
  add(rows: Iterable<MetricsRow>): Set<string> {
    const touched = new Set<string>();
    for (const row of rows) {
      const id = seriesId(row.method, row.seed, row.phase, row.beta);
      let s = this.series.get(id);
      if (!s) {
        s = new Series(id, row.method, row.seed, row.phase, row.beta);
        this.series.set(id, s);
      }
      s.add(row);
      touched.add(id);
    }
    return touched;
  }

  ids(): string[] {
    return [...this.series.keys()];
  }

  /** Rows held for a series (full resolution). */
  rows(id: string): number {
    return this.series.get(id)?.step.length ?? 0;
  }

  /** The series as sent to a webview: each curve downsampled to at most `maxPoints`. */
  view(id: string, maxPoints: number): SeriesData | undefined {
    const s = this.series.get(id);
    if (!s) return undefined;
    const step = s.step.view();
    const curves: SeriesData['curves'] = {};
    for (const [key, col] of s.columns) curves[key] = lttb(step, col.view(), maxPoints);
    return { id: s.id, method: s.method, seed: s.seed, phase: s.phase, beta: s.beta, rows: step.length, curves };
  }

  views(maxPoints: number): SeriesData[] {
    return this.ids().map((id) => this.view(id, maxPoints)!);
  }
}
