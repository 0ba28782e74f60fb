/**
 * The study view's panel: one per study folder (opening it again reveals it), live while the
 * study's runs write, revived after a window reload by its serializer.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { silentLogger, type Logger } from '../util/log';
import { WEBVIEW_OPTIONS, wirePanel } from './panel';
import { StudySession } from './studySession';

export const STUDY_VIEW_TYPE = 'aft.study';

export class StudyPanel {
  private static readonly open = new Map<string, StudyPanel>();

  static show(
    context: vscode.ExtensionContext,
    studyDir: string,
    log: Logger = silentLogger,
    attempt = 0,
    column: vscode.ViewColumn = vscode.ViewColumn.Active,
  ): StudyPanel {
    const dir = path.resolve(studyDir);
    const existing = StudyPanel.open.get(dir);
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(STUDY_VIEW_TYPE, path.basename(dir), column, WEBVIEW_OPTIONS);
    return new StudyPanel(context, panel, dir, log, attempt);
  }

  static revive(
    context: vscode.ExtensionContext,
    panel: vscode.WebviewPanel,
    studyDir: string,
    log: Logger,
  ): StudyPanel {
    return new StudyPanel(context, panel, path.resolve(studyDir), log, 0);
  }

  private readonly wiring: vscode.Disposable;

  private constructor(
    context: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    dir: string,
    log: Logger,
    attempt: number,
  ) {
    StudyPanel.open.set(dir, this);
    this.wiring = wirePanel(
      context,
      panel,
      'study',
      `AFT study: ${path.basename(dir)}`,
      (post) => new StudySession(dir, post, { log }),
      vscode.workspace.workspaceFolders?.[0]?.uri,
      log,
      { reopen: (next, col) => StudyPanel.show(context, dir, log, next, col), attempt },
    );
    panel.onDidDispose(() => {
      if (StudyPanel.open.get(dir) === this) StudyPanel.open.delete(dir);
      this.wiring.dispose();
    });
  }
}
