/**
 * A run's curves as dashboards show them: each curve downsampled (LTTB) to at most `maxPoints`,
 * values rounded for display. The extension host computes these views when a dashboard opens;
 * the run store also writes them, when a run ends, to metrics.view.json, so that opening a
 * finished long run reads about a thousand points per curve instead of decoding and downsampling
 * every logged row (for 9 series × 50,000 steps: ~0.3 s of a cold extension host, on the same two
 * cores the webview is loading on). The file names the part of metrics.jsonl it was made from,
 * as metrics.cols does, and a reader believes it only while metrics.jsonl is exactly that.
 */
import type { CurveCacheCover, CurveColumns, CurveSeries } from './curves';
import { lttb } from './lttb';
import { CURVE_CACHE_TAIL_BYTES } from './curves';
import { isRecord, type Checked } from './records';

/** One plotted curve: steps and values of equal length, downsampled to at most `maxPoints`. */
export interface Curve {
  step: number[];
  value: number[];
}

/** One training job's logged points (one method × seed × phase × β), downsampled. */
export interface SeriesData {
  /** `method/seed/phase/beta`; unique in a run. */
  id: string;
  method: string;
  seed: number;
  phase: 'tune' | 'final';
  beta: number;
  /** Rows logged (before downsampling). */
  rows: number;
  /** Keyed by `MetricName` or `rhoCurveKey(source)`. */
  curves: Record<string, Curve>;
}

/**
 * Points per curve sent to a webview, at most: as many as the widest chart (900 px) has device
 * pixels, give or take. A dashboard says how wide its charts are (`chartPoints`), and then gets
 * about one point per device pixel: LTTB loses nothing visible at that, and uPlot would reduce
 * denser points to a min and max per pixel column anyway. Drawing 1,200 points per curve in a
 * 476-pixel chart made a long run's first open in VS Code 0.3-0.5 s slower than drawing 600
 * (bench:dashboard-vscode, 2 opens each). Exports of the data come from the host at full resolution.
 */
export const DEFAULT_MAX_POINTS = 1200;

/**
 * Points per curve for a dashboard whose charts' width is not known yet (the first one opened:
 * later ones start from what the last one's charts drew). Two charts side by side in a
 * 1,300-pixel editor are ~620 pixels wide; a wider or denser screen asks for more in `ready`.
 */
export const FIRST_CHART_POINTS = 600;

/** Fewest points per curve a chart is sent: narrower charts are not worth telling apart. */
export const MIN_CHART_POINTS = 200;

/**
 * Points per curve for charts `widthCss` CSS pixels wide on a screen of this pixel ratio: one per
 * device pixel (up to 2 per CSS pixel), within [MIN_CHART_POINTS, DEFAULT_MAX_POINTS].
 */
export function pointsAcross(widthCss: number, devicePixelRatio = 1): number {
  const dpr = Number.isFinite(devicePixelRatio) ? Math.min(Math.max(devicePixelRatio, 1), 2) : 1;
  return Number.isFinite(widthCss) ? clampChartPoints(Math.ceil(widthCss * dpr)) : DEFAULT_MAX_POINTS;
}

/**
 * Whether charts that draw `wanted` points per curve should get their curves again, finer, than
 * the `sent` they have: when they want over a quarter more (fewer points than pixels by less than
 * that do not show) and the host can send more.
 */
export function needsFinerPoints(sent: number, wanted: number): boolean {
  return Math.min(wanted, DEFAULT_MAX_POINTS) > sent * 1.25;
}

/**
 * Points per curve for charts that asked for `points` (or a remembered value, of any type):
 * within [MIN_CHART_POINTS, DEFAULT_MAX_POINTS]; FIRST_CHART_POINTS when it is not a number.
 */
export function clampChartPoints(points: unknown): number {
  if (typeof points !== 'number' || !Number.isFinite(points)) return FIRST_CHART_POINTS;
  return Math.min(DEFAULT_MAX_POINTS, Math.max(MIN_CHART_POINTS, Math.round(points)));
}

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

/**
 * A series already downsampled (from metrics.view.json) with at most `maxPoints` per curve: the
 * same series when no curve has more, else each longer curve downsampled again.
 */
export function thinView(view: SeriesData, maxPoints: number): SeriesData {
  if (Object.values(view.curves).every((c) => c.step.length <= maxPoints)) return view;
  const curves: SeriesData['curves'] = {};
  for (const [key, c] of Object.entries(view.curves))
    curves[key] = c.step.length <= maxPoints ? c : lttb(c.step, c.value, maxPoints);
  return { ...view, curves };
}

/** A series as a webview receives it: each curve downsampled to at most `maxPoints`. */
export function seriesView(s: CurveSeries, maxPoints: number): SeriesData {
  const step = s.step.view();
  const curves: SeriesData['curves'] = {};
  for (const [key, col] of s.columns) {
    const c = lttb(step, col.view(), maxPoints);
    roundForDisplay(c.value);
    curves[key] = c;
  }
  return { id: s.id, method: s.method, seed: s.seed, phase: s.phase, beta: s.beta, rows: step.length, curves };
}

/** The file name, next to metrics.jsonl. */
export const CURVE_VIEW_FILE = 'metrics.view.json';

export interface CurveViewFile {
  format: 'aft-metrics-view';
  version: 1;
  maxPoints: number;
  /** The part of metrics.jsonl the views were made from (as in metrics.cols). */
  cover: CurveCacheCover;
  series: SeriesData[];
}

/** The views of every series, as the file's text (NaN, a gap, is written as null). */
export function encodeCurveViews(curves: CurveColumns, cover: CurveCacheCover, maxPoints = DEFAULT_MAX_POINTS): string {
  const file: CurveViewFile = {
    format: 'aft-metrics-view',
    version: 1,
    maxPoints,
    cover,
    series: curves.all().map((s) => seriesView(s, maxPoints)),
  };
  return JSON.stringify(file);
}

const isNumberOrNull = (v: unknown): boolean => v === null || typeof v === 'number';

/**
 * Checks a parsed metrics.view.json (it is read from a run folder: untrusted) and turns its nulls
 * back into NaN gaps. Says the first thing that is wrong.
 */
export function checkCurveViewFile(raw: unknown): Checked<CurveViewFile> {
  const bad = (error: string): Checked<CurveViewFile> => ({ ok: false, error });
  if (!isRecord(raw) || raw.format !== 'aft-metrics-view')
    return bad('not a metrics view file (format is not "aft-metrics-view")');
  if (raw.version !== 1) return bad(`version ${String(raw.version)} is not one this version reads (1)`);
  if (typeof raw.maxPoints !== 'number' || !Number.isInteger(raw.maxPoints) || raw.maxPoints < 3)
    return bad('maxPoints is not an integer of at least 3');
  const c = raw.cover;
  if (
    !isRecord(c) ||
    !Number.isInteger(c.bytes) ||
    !Number.isInteger(c.lines) ||
    typeof c.tail !== 'string' ||
    c.tail.length > 2 * CURVE_CACHE_TAIL_BYTES
  )
    return bad('cover is not {bytes, lines, tail}');
  if (!Array.isArray(raw.series)) return bad('series is not a list');
  const ids = new Set<string>();
  for (const [i, s] of raw.series.entries()) {
    const where = `series[${i}]`;
    if (
      !isRecord(s) ||
      typeof s.id !== 'string' ||
      typeof s.method !== 'string' ||
      typeof s.seed !== 'number' ||
      (s.phase !== 'tune' && s.phase !== 'final') ||
      typeof s.beta !== 'number' ||
      typeof s.rows !== 'number' ||
      !isRecord(s.curves)
    ) {
      return bad(`${where} is not {id, method, seed, phase, beta, rows, curves}`);
    }
    if (ids.has(s.id)) return bad(`${where}: the id ${s.id} comes twice`);
    ids.add(s.id);
    for (const [key, curve] of Object.entries(s.curves)) {
      if (
        !isRecord(curve) ||
        !Array.isArray(curve.step) ||
        !Array.isArray(curve.value) ||
        curve.step.length !== curve.value.length
      )
        return bad(`${where}.curves.${key} is not {step, value} of equal length`);
      if (curve.step.length > raw.maxPoints)
        return bad(`${where}.curves.${key} has ${curve.step.length} points, more than maxPoints (${raw.maxPoints})`);
      if (!curve.step.every((v) => typeof v === 'number') || !curve.value.every(isNumberOrNull))
        return bad(`${where}.curves.${key} holds something other than numbers`);
      const value = curve.value as (number | null)[];
      for (let j = 0; j < value.length; j++) if (value[j] === null) value[j] = NaN;
    }
  }
  return { ok: true, value: raw as unknown as CurveViewFile };
}
