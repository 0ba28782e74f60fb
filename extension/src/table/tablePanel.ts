/**
 * The experiments table panel (`AFT: Show Experiments Table`): one at a time, revealed when shown
 * again, revived after a window reload by its serializer. Its page asks to open runs; they open in
 * the comparison panel or their dashboards (a few at a time: each dashboard is a webview).
 */
import * as vscode from 'vscode';
import { showCompare, showDashboard } from '../dashboard';
import { WEBVIEW_OPTIONS, wirePanel } from '../dashboard/panel';
import { silentLogger, type Logger } from '../util/log';
import { TableSession } from './session';

export const TABLE_VIEW_TYPE = 'aft.table';

/** The most dashboards one Show Dashboard opens (each is a webview with its own page). */
export const MAX_DASHBOARDS = 8;

export class TablePanel {
  private static current: TablePanel | undefined;

  static show(
    context: vscode.ExtensionContext,
    workspaceDirs: () => string[],
    log: Logger = silentLogger,
    attempt = 0,
    column: vscode.ViewColumn = vscode.ViewColumn.Active,
  ): TablePanel {
    if (TablePanel.current) {
      TablePanel.current.panel.reveal();
      return TablePanel.current;
    }
    const panel = vscode.window.createWebviewPanel(TABLE_VIEW_TYPE, 'AFT: Experiments', column, WEBVIEW_OPTIONS);
    return new TablePanel(context, panel, workspaceDirs, log, attempt);
  }

  /** Takes over a panel VS Code restored after a reload. */
  static revive(
    context: vscode.ExtensionContext,
    panel: vscode.WebviewPanel,
    workspaceDirs: () => string[],
    log: Logger = silentLogger,
  ): TablePanel {
    return new TablePanel(context, panel, workspaceDirs, log, 0);
  }

  private readonly wiring: vscode.Disposable;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    workspaceDirs: () => string[],
    log: Logger,
    attempt: number,
  ) {
    TablePanel.current = this;
    this.wiring = wirePanel(
      context,
      panel,
      'table',
      'AFT: Experiments',
      (post) => new TableSession(workspaceDirs, post, { log }),
      vscode.workspace.workspaceFolders?.[0]?.uri,
      log,
      {
        reopen: (next, col) => TablePanel.show(context, workspaceDirs, log, next, col),
        attempt,
      },
      (action, dirs) => {
        if (action === 'compare') {
          showCompare(context, dirs);
          return;
        }
        for (const d of dirs.slice(0, MAX_DASHBOARDS)) showDashboard(context, d);
        if (dirs.length > MAX_DASHBOARDS)
          void vscode.window.showInformationMessage(
            `AFT: opened the dashboards of the first ${MAX_DASHBOARDS} of the ${dirs.length} selected runs; use Compare for more.`,
          );
      },
    );
    panel.onDidDispose(() => {
      if (TablePanel.current === this) TablePanel.current = undefined;
      this.wiring.dispose();
    });
  }
}

/** Revives an experiments table that was open when the window reloaded. */
export function registerTableSerializer(
  context: vscode.ExtensionContext,
  workspaceDirs: () => string[],
  log: Logger,
): void {
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(TABLE_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
        TablePanel.revive(context, panel, workspaceDirs, log);
        return Promise.resolve();
      },
    }),
  );
}
