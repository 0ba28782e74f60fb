/** The comparison panel: one at a time; opening it again with other runs replaces its runs. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { silentLogger, type Logger } from '../util/log';
import { WEBVIEW_OPTIONS, wirePanel } from './panel';
import { CompareSession } from './session';

export const COMPARE_VIEW_TYPE = 'aft.compare';

export class ComparePanel {
  private static current: ComparePanel | undefined;

  static show(
    context: vscode.ExtensionContext,
    runDirs: string[],
    log: Logger = silentLogger,
    attempt = 0,
    column: vscode.ViewColumn = vscode.ViewColumn.Active,
  ): ComparePanel {
    const dirs = runDirs.map((d) => path.resolve(d));
    const existing = ComparePanel.current;
    if (existing) {
      existing.wiring.dispose();
      existing.wiring = existing.wire(context, dirs, log, 0);
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, 'AFT: Compare Runs', column, WEBVIEW_OPTIONS);
    return new ComparePanel(context, panel, dirs, log, attempt);
  }

  static revive(
    context: vscode.ExtensionContext,
    panel: vscode.WebviewPanel,
    runDirs: string[],
    log: Logger = silentLogger,
  ): ComparePanel {
    return new ComparePanel(context, panel, runDirs, log, 0);
  }

  private wiring: vscode.Disposable;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    runDirs: string[],
    log: Logger,
    attempt: number,
  ) {
    ComparePanel.current = this;
    this.wiring = this.wire(context, runDirs, log, attempt);
    panel.onDidDispose(() => {
      if (ComparePanel.current === this) ComparePanel.current = undefined;
      this.wiring.dispose();
    });
  }

  private wire(context: vscode.ExtensionContext, runDirs: string[], log: Logger, attempt: number): vscode.Disposable {
    const exportDir = vscode.workspace.workspaceFolders?.[0]?.uri;
    return wirePanel(
      context,
      this.panel,
      'compare',
      `AFT: Compare ${runDirs.length} runs`,
      (post) => new CompareSession(runDirs, post, { log }),
      exportDir,
      log,
      {
        // A webview that never starts is replaced by a new panel in the same place (readyWatchdog.ts).
        reopen: (next, column) => ComparePanel.show(context, runDirs, log, next, column),
        attempt,
      },
    );
  }
}
