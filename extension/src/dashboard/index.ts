/**
 * The dashboards' entry points for the rest of the extension: the commands `aft.showDashboard`
 * and `aft.compareRuns` and the Runs view call these; activation registers the serializers.
 * package.json needs `onWebviewPanel:aft.dashboard` and `onWebviewPanel:aft.compare` activation
 * events so that panels open before a reload come back after it.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { silentLogger, type Logger } from '../util/log';
import { ComparePanel, COMPARE_VIEW_TYPE } from './comparePanel';
import { DashboardPanel, DASHBOARD_VIEW_TYPE } from './dashboardPanel';
import { isRunDir, runDirFromState, runDirsFromState } from './session';
import { StudyPanel, STUDY_VIEW_TYPE } from './studyPanel';
import { isStudyDir } from '../../../core/node/runs/studies';

export { COMPARE_VIEW_TYPE, DASHBOARD_VIEW_TYPE, STUDY_VIEW_TYPE };

let log: Logger = silentLogger;

/** Where the dashboards log (bad lines in a run's files, rejected webview messages). */
export function setDashboardLogger(logger: Logger): void {
  log = logger;
}

/** Opens (or reveals) the live dashboard of a run folder (`<workspace>/.aft/runs/<id>`). */
export function showDashboard(context: vscode.ExtensionContext, runDir: string): void {
  if (!isRunDir(runDir)) {
    void vscode.window.showErrorMessage(`Not a run folder (no status.json): ${runDir}`);
    return;
  }
  DashboardPanel.show(context, runDir, log);
}

/** Opens the comparison of these run folders (replacing the runs of an open comparison). */
export function showCompare(context: vscode.ExtensionContext, runDirs: string[]): void {
  const bad = runDirs.filter((d) => !isRunDir(d));
  if (bad.length) {
    void vscode.window.showErrorMessage(`Not run folders (no status.json): ${bad.join(', ')}`);
    return;
  }
  if (!runDirs.length) {
    void vscode.window.showErrorMessage('Choose at least one run to compare.');
    return;
  }
  ComparePanel.show(context, runDirs, log);
}

/** Opens (or reveals) the view of a study folder (`<workspace>/.aft/runs/<study id>`). */
export function showStudy(context: vscode.ExtensionContext, studyDir: string): void {
  if (!isStudyDir(studyDir)) {
    void vscode.window.showErrorMessage(`Not a study folder (no study.json): ${studyDir}`);
    return;
  }
  StudyPanel.show(context, studyDir, log);
}

/** Revives dashboards and comparisons that were open when the window reloaded. */
export function registerDashboardSerializers(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const dir = runDirFromState(state);
        if (dir) DashboardPanel.revive(context, panel, dir, log);
        else panel.dispose(); // the run folder is gone (deleted, or another machine's path)
        return Promise.resolve();
      },
    }),
    vscode.window.registerWebviewPanelSerializer(STUDY_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const dir =
          typeof state === 'object' && state !== null ? (state as { studyDir?: unknown }).studyDir : undefined;
        if (typeof dir === 'string' && path.isAbsolute(dir) && isStudyDir(dir))
          StudyPanel.revive(context, panel, dir, log);
        else panel.dispose();
        return Promise.resolve();
      },
    }),
    vscode.window.registerWebviewPanelSerializer(COMPARE_VIEW_TYPE, {
      deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
        const dirs = runDirsFromState(state);
        if (dirs.length) ComparePanel.revive(context, panel, dirs, log);
        else panel.dispose();
        return Promise.resolve();
      },
    }),
  );
}
