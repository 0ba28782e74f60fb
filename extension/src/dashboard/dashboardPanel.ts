/**
 * The run dashboard panel: one per run folder (opening it again reveals it), live while the run
 * writes, revived after a window reload by its serializer.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HostMessage } from '../../../core/common/protocol/webview';
import { silentLogger, type Logger } from '../util/log';
import { WEBVIEW_OPTIONS, wirePanel } from './panel';
import { DashboardSession } from './session';

export const DASHBOARD_VIEW_TYPE = 'aft.dashboard';

/** globalState: points per curve the last dashboard's charts drew (SessionOptions.maxPoints). */
const CHART_POINTS_KEY = 'aft.dashboard.chartPoints';

export class DashboardPanel {
  private static readonly open = new Map<string, DashboardPanel>();

  /** Opens (or reveals) the dashboard of a run folder. */
  static show(
    context: vscode.ExtensionContext,
    runDir: string,
    log: Logger = silentLogger,
    attempt = 0,
    column: vscode.ViewColumn = vscode.ViewColumn.Active,
  ): DashboardPanel {
    const dir = path.resolve(runDir);
    const existing = DashboardPanel.open.get(dir);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, path.basename(dir), column, WEBVIEW_OPTIONS);
    return new DashboardPanel(context, panel, dir, log, attempt);
  }

  /** Takes over a panel VS Code restored after a reload. */
  static revive(
    context: vscode.ExtensionContext,
    panel: vscode.WebviewPanel,
    runDir: string,
    log: Logger = silentLogger,
  ): DashboardPanel {
    return new DashboardPanel(context, panel, path.resolve(runDir), log, 0);
  }

  private readonly wiring: vscode.Disposable;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly runDir: string,
    log: Logger,
    attempt: number,
  ) {
    DashboardPanel.open.set(runDir, this);
    // The run is sent with as many points per curve as the last dashboard's charts drew (kept
    // across windows): the copy posted while the page loads then already fits its charts.
    const session = (post: (m: HostMessage) => void): DashboardSession =>
      new DashboardSession(runDir, post, {
        log,
        maxPoints: context.globalState.get<unknown>(CHART_POINTS_KEY),
        onChartPoints: (p) => void context.globalState.update(CHART_POINTS_KEY, p),
      });
    this.wiring = wirePanel(
      context,
      panel,
      'dashboard',
      `AFT: ${path.basename(runDir)}`,
      session,
      vscode.Uri.file(runDir),
      log,
      {
        // A webview that never starts is replaced by a new panel in the same place (readyWatchdog.ts).
        reopen: (next, column) => DashboardPanel.show(context, runDir, log, next, column),
        attempt,
      },
    );
    panel.onDidDispose(() => {
      DashboardPanel.open.delete(runDir);
      this.wiring.dispose();
    });
  }
}
