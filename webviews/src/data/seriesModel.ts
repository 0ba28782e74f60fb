/**
 * A run's curves (full-resolution columns, `CurveColumns`) and the downsampled `SeriesData` a
 * webview receives. Used by the extension host while a run streams and by the HTML report; pure
 * (no DOM, no Node).
 */
import type { SeriesData } from '../contract';
import { CurveColumns, type CurveSeries } from '../../../sidecar/src/runs/curves';
import type { MetricsRow } from '../../../sidecar/src/runs/records';
import { lttb } from './lttb';

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
    for (const [key, col] of s.columns) curves[key] = lttb(step, col.view(), maxPoints);
    return { id: s.id, method: s.method, seed: s.seed, phase: s.phase, beta: s.beta, rows: step.length, curves };
  }

  views(maxPoints: number): SeriesData[] {
    return this.ids().map((id) => this.view(id, maxPoints)!);
  }
}
