/**
 * The webview's side of the host: inside VS Code, `acquireVsCodeApi()` (messages, saved state,
 * exports through the host's save dialog); in the HTML report, the run data embedded in the page
 * as JSON and downloads through the browser. The apps do not know which one they run in.
 */
import { markTime } from './dom';
import { REPORT_DATA_ID } from '../../../core/common/view/reportData';
import {
  EXPORT_FORMATS,
  isHostMessage,
  type CurveRef,
  type ExportFormat,
  type HostMessage,
  type WebviewApp,
  type WebviewMessage,
} from '../../../core/common/protocol/webview';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;

export interface Host {
  readonly mode: 'vscode' | 'report';
  /**
   * Installs the message handler and sends `ready` (the handshake), with the points per curve
   * the page's charts draw when `chartPoints` is given (read when `ready` is sent).
   */
  start(onMessage: (m: HostMessage) => void, chartPoints?: () => number): void;
  /** Tells the host the charts now draw this many points per curve (they grew); absent in the report. */
  chartPoints?(points: number): void;
  getState<T>(): T | undefined;
  setState(state: unknown): void;
  save(format: ExportFormat, fileName: string, data: string): void;
  /** Asks the host for these curves as CSV at full resolution; absent where there is no host (the report). */
  saveCurves?(fileName: string, curves: CurveRef[]): void;
  /** Asks the host to open these runs in the comparison or their dashboards (the experiments table). */
  openRuns?(action: 'compare' | 'dashboard', runIds: string[]): void;
  /** Asks the host to read the run store again now. */
  refresh?(): void;
}

/**
 * How long a page waits for its data after `ready` before saying `ready` again. The host may
 * post the data while the page loads (extension/src/dashboard/session.ts) and then not answer
 * the first `ready`; should that early message be lost, the page asks again. A host still
 * reading a long run answers every `ready` with one copy, once read.
 */
const READY_AGAIN_MS = 2000;

function vscodeHost(api: VsCodeApi, view: WebviewApp): Host {
  const post = (m: WebviewMessage): void => api.postMessage(m);
  return {
    mode: 'vscode',
    start(onMessage, chartPoints) {
      let gotData = false;
      window.addEventListener('message', (e: MessageEvent<unknown>) => {
        if (!isHostMessage(e.data)) return;
        if (e.data.type === 'run' || e.data.type === 'compare' || e.data.type === 'table' || e.data.type === 'study')
          gotData = true;
        onMessage(e.data);
      });
      const ready = (): void => post({ type: 'ready', view, ...(chartPoints ? { chartPoints: chartPoints() } : {}) });
      ready();
      markTime('readyAt');
      const again = setInterval(() => {
        if (gotData) clearInterval(again);
        else ready();
      }, READY_AGAIN_MS);
    },
    chartPoints: (points) => post({ type: 'chartPoints', points }),
    getState: <T>() => (api.getState() ?? undefined) as T | undefined,
    setState: (s) => api.setState(s),
    save: (format, fileName, data) => post({ type: 'export', format, fileName, data }),
    saveCurves: (fileName, curves) => post({ type: 'exportCurves', fileName, curves }),
    openRuns: (action, runIds) => post({ type: 'openRuns', action, runIds }),
    refresh: () => post({ type: 'refresh' }),
  };
}

function reportHost(): Host {
  let state: unknown;
  return {
    mode: 'report',
    start(onMessage) {
      const text = document.getElementById(REPORT_DATA_ID)?.textContent ?? '';
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (e) {
        onMessage({ type: 'error', message: `the report's data block is not valid JSON: ${(e as Error).message}` });
        return;
      }
      if (isHostMessage(data)) onMessage(data);
      else onMessage({ type: 'error', message: "the report's data block is not a run, a comparison or a study" });
    },
    getState: <T>() => state as T | undefined,
    setState: (s) => {
      state = s;
    },
    save(format, fileName, data) {
      const bytes = format === 'png' ? Uint8Array.from(atob(data), (c) => c.charCodeAt(0)) : data;
      const url = URL.createObjectURL(new Blob([bytes], { type: EXPORT_FORMATS[format] }));
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  };
}

export function connectHost(view: WebviewApp): Host {
  return typeof acquireVsCodeApi === 'function' ? vscodeHost(acquireVsCodeApi(), view) : reportHost();
}
