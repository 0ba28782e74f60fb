/**
 * A run's curves (full-resolution columns, `CurveColumns`) and the downsampled `SeriesData` a
 * webview receives. A finished run's series may come already downsampled (metrics.view.json):
 * those are sent as they are, and their full resolution is loaded only if a CSV export asks for
 * it. Used by the extension host while a run streams and by the HTML report; pure (no DOM, no Node).
 */
import type { CurveRef, SeriesData } from '../protocol/webview';
import { toCsv, type CsvCell } from './csv';
import { CurveColumns, type CurveSeries } from '../runs/curves';
import type { MetricsRow } from '../runs/records';
import { seriesView, thinView } from '../runs/curveViews';

export class SeriesModel {
  private readonly curves = new CurveColumns();
  /** Series known only downsampled (from metrics.view.json), by id, in file order. */
  private readonly prepared = new Map<string, SeriesData>();

  /** Adds rows; returns the ids of the series they touched. */
  add(rows: Iterable<MetricsRow>): Set<string> {
    return this.curves.add(rows);
  }

  /** Takes in whole series read from the column cache; returns their ids. */
  load(series: Iterable<CurveSeries>): Set<string> {
    const ids = this.curves.load(series);
    for (const id of ids) this.prepared.delete(id);
    return ids;
  }

  /** Takes in series already downsampled to the `maxPoints` they will be viewed at; returns their ids. */
  loadViews(views: Iterable<SeriesData>): Set<string> {
    const ids = new Set<string>();
    for (const v of views) {
      if (this.curves.get(v.id)) continue; // the full resolution is here already
      this.prepared.set(v.id, v);
      ids.add(v.id);
    }
    return ids;
  }

  /** Whether any of these curves' series is known only downsampled (a CSV of it needs the full data). */
  lacksFullResolution(refs: readonly CurveRef[]): boolean {
    return refs.some((r) => this.prepared.has(r.series));
  }

  /** Forgets every series (the metrics file was replaced). */
  clear(): void {
    this.curves.clear();
    this.prepared.clear();
  }

  ids(): string[] {
    return [...this.prepared.keys(), ...this.curves.all().map((s) => s.id)];
  }

  /** The series as sent to a webview: each curve downsampled to at most `maxPoints`. */
  view(id: string, maxPoints: number): SeriesData | undefined {
    const s = this.curves.get(id);
    if (s) return seriesView(s, maxPoints);
    const prepared = this.prepared.get(id);
    return prepared && thinView(prepared, maxPoints);
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
