/**
 * The extension ↔ webview message contract, for the run dashboard and the comparison view. Both
 * sides import this module (the extension host, the webview bundles and the HTML report); every
 * message is one member of a discriminated union, with a line saying who sends it.
 *
 * The handshake: the host posts the whole `run` (or `compare`) while the page first loads (VS Code
 * holds it until the page has loaded, so it arrives right after the page starts); the webview
 * posts `ready` once its listeners are installed, with the width of its charts, and the host sends
 * the run again only if the charts need finer curves than it guessed. A page that has no data
 * 2 s after `ready` says `ready` again. After that come coalesced `update`s, at most about ten a
 * second. Series arrive already downsampled (LTTB, `maxPoints` per curve), so the webview's memory
 * is bounded by the number of series, not by the length of the run.
 *
 * Everything inside these messages that came from run files (names, messages, paths) is
 * untrusted text: the webview renders it with `textContent` and never as markup.
 *
 * This module holds types and small pure helpers only: no DOM, no Node, no `vscode`.
 */
import type { RunState, RunSummary, Segment } from './events';
import type { SeriesData } from '../runs/curveViews';
import { isRecord } from '../runs/records';
import type { StudyInfo } from '../runs/study';

export type { RunState, RunSummary, Segment };
// The charted metrics, curve keys and series ids are the run store's (one definition for both).
export { METRICS, rhoCurveKey, seriesId, type MetricName } from '../runs/curves';

// Downsampled curves: the run store's views (metrics.view.json) are exactly what a webview gets.
export type { Curve, SeriesData } from '../runs/curveViews';

/** A learned ρ vector with its source segments (a `rho/<method>/seed-<s>.json` file). */
export interface RhoSnapshot {
  method: string;
  seed: number;
  /** The training step of this snapshot, when the file says. */
  step?: number;
  segments: Segment[];
  values: number[];
}

/** What the dashboard shows of status.json. */
export interface RunStatusView {
  runId: string;
  experiment: string;
  state: RunState;
  started: string;
  updated: string;
  finished?: string;
  message?: string;
  progress?: { fraction: number; label: string; etaSeconds: number | null };
}

/** Everything the run dashboard draws for one run. */
export interface RunView {
  runId: string;
  /** The run folder, as the user would recognise it (shown, never interpreted). */
  location: string;
  status: RunStatusView;
  summary?: RunSummary;
  series: SeriesData[];
  rho: RhoSnapshot[];
  /** Points per curve above which the host downsampled. */
  maxPoints: number;
}

/** One run in the comparison view. */
export interface CompareRun {
  runId: string;
  experiment: string;
  location: string;
  state: RunState;
  summary?: RunSummary;
}

/** One method of a run in the experiments table (its summary, and its curves' best and last). */
export interface TableMethod {
  kind: string;
  /** Test accuracy over seeds: mean and standard error (summary.json). */
  mean: number;
  se: number;
  /** The β used for the reported runs (0 for stl). */
  beta: number;
  /** Mean over seeds of the best and of the last test accuracy logged while training (metrics.jsonl, final phase). */
  best?: number;
  last?: number;
  trainSeconds: number;
}

/** The parameters of a run's resolved experiment (experiment.json) that the table shows. */
export interface TableParams {
  /** The dataset's kind and size, e.g. "mnist" (its examples in `train`/`test` when known). */
  dataset: string;
  train?: number;
  test?: number;
  /** Pre-trained feature sources with their widths, when the summary or the file says. */
  sources: { name: string; kind: string; width?: number }[];
  /** The student, e.g. "mlp 128-64" or "cnn 16-32 / 128-64". */
  student: string;
  methods: string[];
  lr: number;
  steps: number;
  batch: number;
  seeds: number[];
  backend: string;
}

/** One run in the experiments table, built by the host from the run store. */
export interface TableRun {
  runId: string;
  /** The run folder (shown and used to open the run; never interpreted by the page). */
  location: string;
  experiment: string;
  state: RunState;
  started: string;
  /** Why the run failed, or which of its files could not be read and why. */
  message?: string;
  /** Absent when experiment.json cannot be read (`message` says why). */
  params?: TableParams;
  /** Per method, once the run has a summary. */
  methods: Record<string, TableMethod>;
  /** Seconds the whole run took (summary.json). */
  seconds?: number;
}

// ---- host → webview ----

/** Host → dashboard: the whole run, the first message after `ready` (and after a reload). */
export interface RunMessage {
  type: 'run';
  run: RunView;
}

/** Host → dashboard: what changed since the last message (throttled, ≤ ~10 a second). */
export interface UpdateMessage {
  type: 'update';
  runId: string;
  /** Replacements for these series (by id), newly downsampled. */
  series?: SeriesData[];
  /** Replacements for these ρ snapshots (by method and seed). */
  rho?: RhoSnapshot[];
  status?: RunStatusView;
  summary?: RunSummary;
}

/** Host → comparison view: the runs to compare (first message after `ready`, and on changes). */
export interface CompareMessage {
  type: 'compare';
  runs: CompareRun[];
}

/** Host → study view: the study, its values and their runs' summaries (first message after `ready`, and on changes). */
export interface StudyMessage {
  type: 'study';
  study: StudyInfo;
}

/** Host → either view: the data could not be read (the view shows the message). */
export interface ErrorMessage {
  type: 'error';
  message: string;
}

/** Host → experiments table: every run of the workspace (first message after `ready`, and when the store changed). */
export interface TableMessage {
  type: 'table';
  runs: TableRun[];
}

export type HostMessage = RunMessage | UpdateMessage | CompareMessage | TableMessage | StudyMessage | ErrorMessage;

// ---- webview → host ----

/**
 * Webview → host: listeners are installed; send the data. The dashboard's host may have posted
 * the run already, while the page loaded, and then does not send it again; a page that has no
 * data 2 s later says `ready` again (common/host.ts) and gets it.
 */
export interface ReadyMessage {
  type: 'ready';
  view: WebviewApp;
  /**
   * The dashboard's charts are this many device pixels across: the points per curve they draw
   * (curveViews.ts `pointsAcross`). The host sends the run again, finer, when it sent too few.
   */
  chartPoints?: number;
}

/** Webview → host: the dashboard's charts grew (a resize) and now draw this many points per curve. */
export interface ChartPointsMessage {
  type: 'chartPoints';
  points: number;
}

export const EXPORT_FORMATS = { png: 'image/png', svg: 'image/svg+xml', csv: 'text/csv' } as const;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

/** Webview → host: save this chart or table (webviews cannot download; the host asks where). */
export interface ExportMessage {
  type: 'export';
  format: ExportFormat;
  /** A suggested file name (the host sanitises it and the user confirms it). */
  fileName: string;
  /** base64 for png, text for svg and csv. */
  data: string;
}

/** A plotted curve: which series (by id) and which of its curves (a metric or ρ key). */
export interface CurveRef {
  series: string;
  curve: string;
}

/**
 * Webview → host: save these curves as CSV at full resolution (the webview holds only the
 * downsampled points; the host has every logged row).
 */
export interface ExportCurvesMessage {
  type: 'exportCurves';
  fileName: string;
  curves: CurveRef[];
}

/** Experiments table → host: open these runs (by id, as the table was sent them) in the comparison or their dashboards. */
export interface OpenRunsMessage {
  type: 'openRuns';
  action: 'compare' | 'dashboard';
  runIds: string[];
}

/** Experiments table → host: read the run store again now (the Refresh button). */
export interface RefreshMessage {
  type: 'refresh';
}

export type WebviewMessage =
  ReadyMessage | ChartPointsMessage | ExportMessage | ExportCurvesMessage | OpenRunsMessage | RefreshMessage;

/** The webview apps (one bundle each in dist/webviews). */
export const WEBVIEW_APPS = ['dashboard', 'compare', 'table', 'study'] as const;
export type WebviewApp = (typeof WEBVIEW_APPS)[number];

/** The most runs one `openRuns` may name (the table has no cap; opening is what costs). */
export const MAX_OPEN_RUNS = 100_000;

/** The most curves one CSV export may name (a chart shows a few dozen). */
export const MAX_EXPORT_CURVES = 10_000;

/** The largest export the host accepts (a 4K PNG is a few MB; this leaves room). */
export const MAX_EXPORT_CHARS = 64 * 1024 * 1024;

/** The most points per curve a page may say it draws (a chart 50,000 device pixels across). */
const MAX_POINT_COUNT = 50_000;
const isPointCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_POINT_COUNT;

/**
 * Validates a message from the webview (the host's edge): a typed message, or an error that
 * says what was expected and what arrived.
 */
export function parseWebviewMessage(
  raw: unknown,
): { ok: true; message: WebviewMessage } | { ok: false; error: string } {
  if (!isRecord(raw))
    return { ok: false, error: `expected a message object, got ${raw === null ? 'null' : typeof raw}` };
  switch (raw.type) {
    case 'ready': {
      if (!WEBVIEW_APPS.includes(raw.view as WebviewApp))
        return {
          ok: false,
          error: `ready: expected view ${WEBVIEW_APPS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(raw.view)}`,
        };
      const view = raw.view as WebviewApp;
      if (raw.chartPoints === undefined) return { ok: true, message: { type: 'ready', view } };
      if (!isPointCount(raw.chartPoints))
        return {
          ok: false,
          error: `ready: expected chartPoints as a whole number from 1 to ${MAX_POINT_COUNT}, got ${JSON.stringify(raw.chartPoints)}`,
        };
      return { ok: true, message: { type: 'ready', view, chartPoints: raw.chartPoints } };
    }
    case 'chartPoints':
      if (!isPointCount(raw.points))
        return {
          ok: false,
          error: `chartPoints: expected points as a whole number from 1 to ${MAX_POINT_COUNT}, got ${JSON.stringify(raw.points)}`,
        };
      return { ok: true, message: { type: 'chartPoints', points: raw.points } };
    case 'export': {
      const { format, fileName, data } = raw;
      if (typeof format !== 'string' || !Object.hasOwn(EXPORT_FORMATS, format))
        return { ok: false, error: `export: expected format png, svg or csv, got ${JSON.stringify(format)}` };
      if (typeof fileName !== 'string' || fileName.length === 0 || fileName.length > 200)
        return { ok: false, error: 'export: expected a fileName of 1 to 200 characters' };
      if (typeof data !== 'string')
        return { ok: false, error: `export: expected data as a string, got ${typeof data}` };
      if (data.length > MAX_EXPORT_CHARS)
        return {
          ok: false,
          error: `export: data is ${data.length} characters, more than the ${MAX_EXPORT_CHARS} allowed`,
        };
      if (format === 'png' && !/^[A-Za-z0-9+/]*={0,2}$/.test(data))
        return { ok: false, error: 'export: png data is not base64' };
      return { ok: true, message: { type: 'export', format: format as ExportFormat, fileName, data } };
    }
    case 'exportCurves': {
      const { fileName, curves } = raw;
      if (typeof fileName !== 'string' || fileName.length === 0 || fileName.length > 200)
        return { ok: false, error: 'exportCurves: expected a fileName of 1 to 200 characters' };
      if (!Array.isArray(curves) || curves.length === 0 || curves.length > MAX_EXPORT_CURVES)
        return { ok: false, error: `exportCurves: expected 1 to ${MAX_EXPORT_CURVES} curves` };
      const refs: CurveRef[] = [];
      for (const [i, c] of curves.entries()) {
        if (
          !isRecord(c) ||
          typeof c.series !== 'string' ||
          typeof c.curve !== 'string' ||
          c.series.length > 500 ||
          c.curve.length > 500
        )
          return { ok: false, error: `exportCurves: curves[${i}] is not {series, curve} (strings)` };
        refs.push({ series: c.series, curve: c.curve });
      }
      return { ok: true, message: { type: 'exportCurves', fileName, curves: refs } };
    }
    case 'openRuns': {
      const { action, runIds } = raw;
      if (action !== 'compare' && action !== 'dashboard')
        return {
          ok: false,
          error: `openRuns: expected action 'compare' or 'dashboard', got ${JSON.stringify(action)}`,
        };
      if (
        !Array.isArray(runIds) ||
        runIds.length === 0 ||
        runIds.length > MAX_OPEN_RUNS ||
        !runIds.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 500)
      )
        return { ok: false, error: `openRuns: expected runIds as 1 to ${MAX_OPEN_RUNS} run ids (strings)` };
      return { ok: true, message: { type: 'openRuns', action, runIds: runIds as string[] } };
    }
    case 'refresh':
      return { ok: true, message: { type: 'refresh' } };
    default:
      return {
        ok: false,
        error: `expected a message type 'ready', 'chartPoints', 'export', 'exportCurves', 'openRuns' or 'refresh', got ${JSON.stringify(raw.type)}`,
      };
  }
}

/** Checks the shape of a host message on the webview side (the host is trusted; this guards bugs). */
export function isHostMessage(raw: unknown): raw is HostMessage {
  if (!isRecord(raw)) return false;
  switch (raw.type) {
    case 'run':
      return isRecord(raw.run) && Array.isArray(raw.run.series) && Array.isArray(raw.run.rho);
    case 'update':
      return typeof raw.runId === 'string';
    case 'compare':
    case 'table':
      return Array.isArray(raw.runs);
    case 'study':
      return isRecord(raw.study) && Array.isArray(raw.study.values) && isRecord(raw.study.record);
    case 'error':
      return typeof raw.message === 'string';
    default:
      return false;
  }
}

/** A file name safe on every platform: letters, digits, `.`, `-`, `_`; the format's extension. */
export function safeFileName(name: string, format: ExportFormat): string {
  const base = name
    .replace(/\.(png|svg|csv)$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, 120);
  return `${base || 'chart'}.${format}`;
}

/** Applies an update to a run view (the webview's reducer; pure so it is unit-tested). */
export function applyUpdate(run: RunView, u: UpdateMessage): RunView {
  if (u.runId !== run.runId) return run;
  let series = run.series;
  if (u.series?.length) {
    const byId = new Map(series.map((s) => [s.id, s]));
    for (const s of u.series) byId.set(s.id, s);
    series = [...byId.values()];
  }
  let rho = run.rho;
  if (u.rho?.length) {
    const key = (r: RhoSnapshot): string => `${r.method}/${r.seed}`;
    const byKey = new Map(rho.map((r) => [key(r), r]));
    for (const r of u.rho) byKey.set(key(r), r);
    rho = [...byKey.values()];
  }
  return {
    ...run,
    series,
    rho,
    ...(u.status ? { status: u.status } : {}),
    ...(u.summary ? { summary: u.summary } : {}),
  };
}
