/**
 * What the dashboard and comparison panels share: the webview options (scripts on, no local
 * resources at all: the page carries its bundle inline, html.ts), the page, and the handling of the webview's messages
 * (validated at this edge: `ready` starts the data, `export` saves a file, `exportCurves` saves
 * curves as CSV from the host's full-resolution data).
 */
import * as vscode from 'vscode';
import {
  parseWebviewMessage,
  type CurveRef,
  type HostMessage,
  type WebviewApp,
} from '../../../core/common/protocol/webview';
import type { Logger } from '../util/log';
import { saveExport } from './exportFile';
import { nonce, readBundle, webviewHtml } from './html';
import { READY_WAITS_MS, ReadyWatchdog } from './readyWatchdog';

export interface DataSession {
  /** The page is listening; `chartPoints`: what its charts draw per curve (the dashboard says). */
  onReady(chartPoints?: number): void;
  /** The page's charts grew and now draw this many points per curve (the dashboard's session takes it). */
  onChartPoints?(points: number): void;
  onHidden(): void;
  dispose(): void;
  /** Curves as CSV at full resolution (the dashboard's session has them). */
  curvesCsv?(refs: readonly CurveRef[]): string;
}

/** Where the webview bundles are (read by the extension host and inlined into the page). */
export function webviewRoot(context: vscode.ExtensionContext): vscode.Uri {
  return vscode.Uri.joinPath(context.extensionUri, 'dist', 'webviews');
}

/** Options for `createWebviewPanel` (the panel options can be set only there). */
// Not retained when hidden: a hidden dashboard costs no memory, and on showing again the webview
// sends `ready` and gets the whole run (its UI state comes back from setState).
export const WEBVIEW_OPTIONS: vscode.WebviewPanelOptions & vscode.WebviewOptions = {
  enableScripts: true,
  localResourceRoots: [],
  retainContextWhenHidden: false,
  enableFindWidget: true,
};

/** Sets up a panel's page and message flow around a data session; returns a disposable. */
export function wirePanel(
  context: vscode.ExtensionContext,
  panel: vscode.WebviewPanel,
  app: WebviewApp,
  title: string,
  makeSession: (post: (m: HostMessage) => void) => DataSession,
  exportDir: vscode.Uri | undefined,
  log: Logger,
  retry: {
    /**
     * Opens the view in a new panel in `column` as reload `attempt`, once this panel (whose webview
     * never said `ready`) is disposed: setting the page again does not help a stuck host page
     * (readyWatchdog.ts).
     */
    reopen: (attempt: number, column: vscode.ViewColumn) => void;
    /** Reloads already tried by the panels this one replaces. */
    attempt: number;
  },
): vscode.Disposable {
  const root = webviewRoot(context);
  // Set again here for panels VS Code revived after a reload (created without our options).
  panel.webview.options = { enableScripts: true, localResourceRoots: [] };
  panel.title = title;
  panel.webview.html = webviewHtml({
    cspSource: panel.webview.cspSource,
    nonce: nonce(),
    bundle: readBundle(root.fsPath, app),
    title,
  });
  const watchdog = new ReadyWatchdog(
    {
      reload(attempt, waitedMs) {
        log.warn(
          `${app} webview "${title}" sent no ready in ${waitedMs / 1000} s; opening it again in a new panel (${attempt} of ${READY_WAITS_MS.length - 1})`,
        );
        const column = panel.viewColumn ?? vscode.ViewColumn.Active;
        panel.dispose();
        retry.reopen(attempt, column);
      },
      giveUp(waitedMs) {
        const what = `the ${app} webview "${title}" did not start: it was opened ${READY_WAITS_MS.length} times and never answered (the last time in ${waitedMs / 1000} s)`;
        log.error(what);
        void vscode.window
          .showErrorMessage(
            `AFT: ${what}. VS Code's webviews stay blank like this when their service worker fails to start (microsoft/vscode#125993); reloading the window starts them again.`,
            'Reload Window',
          )
          .then((a) => a && vscode.commands.executeCommand('workbench.action.reloadWindow'));
      },
    },
    { startAttempt: retry.attempt },
  );
  let visible = panel.visible;
  if (visible) watchdog.loading();
  // postMessage resolves false when the webview could not take the message (not loaded, or gone).
  const session = makeSession(
    (m) =>
      void panel.webview.postMessage(m).then(
        (ok) => ok || log.warn(`${app} webview "${title}" did not take a ${m.type} message (not loaded, or closed)`),
        (e: unknown) => log.warn(`${app} webview "${title}": posting a ${m.type} message failed: ${String(e)}`),
      ),
  );
  const subs = [
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const r = parseWebviewMessage(raw);
      if (!r.ok) {
        log.warn(`${app} webview sent a bad message: ${r.error}`);
        return;
      }
      const m = r.message;
      if (m.type === 'ready') {
        watchdog.ready();
        session.onReady(m.chartPoints);
      } else if (m.type === 'chartPoints') session.onChartPoints?.(m.points);
      else if (m.type === 'export') void saveExport(m, exportDir);
      else if (session.curvesCsv)
        void saveExport(
          { type: 'export', format: 'csv', fileName: m.fileName, data: session.curvesCsv(m.curves) },
          exportDir,
        );
      else log.warn(`${app} webview asked for curves, which this view does not have`);
    }),
    panel.onDidChangeViewState(() => {
      // Fired on focus changes too: only a hidden → shown change reloads the page.
      if (panel.visible && !visible) watchdog.shown();
      if (!panel.visible) {
        watchdog.hidden();
        session.onHidden();
      }
      visible = panel.visible;
    }),
  ];
  return {
    dispose: () => {
      watchdog.dispose();
      session.dispose();
      for (const s of subs) s.dispose();
    },
  };
}
