/** The comparison panel: one at a time; opening it again with other runs replaces its runs. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { silentLogger, type Logger } from '../util/log';
import { webviewOptions, wirePanel } from './panel';
import { CompareSession } from './session';

export const COMPARE_VIEW_TYPE = 'aft.compare';

export class ComparePanel {
  private static current: ComparePanel | undefined;

  static show(context: vscode.ExtensionContext, runDirs: string[], log: Logger = silentLogger): ComparePanel {
    const dirs = runDirs.map((d) => path.resolve(d));
    const existing = ComparePanel.current;
    if (existing) {
      existing.wiring.dispose();
      existing.wiring = existing.wire(context, dirs, log);
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, 'AFT: Compare Runs', vscode.ViewColumn.Active, webviewOptions(context));
    return new ComparePanel(context, panel, dirs, log);
  }

  static revive(context: vscode.ExtensionContext, panel: vscode.WebviewPanel, runDirs: string[], log: Logger = silentLogger): ComparePanel {
    return new ComparePanel(context, panel, runDirs, log);
  }

  private wiring: vscode.Disposable;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    runDirs: string[],
    log: Logger,
  ) {
    ComparePanel.current = this;
    this.wiring = this.wire(context, runDirs, log);
    panel.onDidDispose(() => {
      if (ComparePanel.current === this) ComparePanel.current = undefined;
      this.wiring.dispose();
    });
  }

  private wire(context: vscode.ExtensionContext, runDirs: string[], log: Logger): vscode.Disposable {
    const exportDir = vscode.workspace.workspaceFolders?.[0]?.uri;
    return wirePanel(context, this.panel, 'compare', `AFT: Compare ${runDirs.length} runs`, (post) => new CompareSession(runDirs, post, { log }), exportDir, log);
  }
}
