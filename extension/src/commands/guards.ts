/** Checks shared by commands: workspace trust, an open folder, errors from the sidecar. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import type { ErrorData } from '../../../core/common/protocol/rpc';
import { findExperimentFiles } from '../experiments/view';

/** True in a trusted workspace; otherwise says why nothing runs. */
export function requireTrust(action: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(
      `AFT: ${action} is not available in an untrusted workspace. Running trains models on this workspace's files in a separate process; experiment files can still be opened and checked. Trust the workspace to run it.`,
      'Manage Workspace Trust',
    )
    .then((a) => (a ? vscode.commands.executeCommand('workbench.trust.manage') : undefined));
  return false;
}

/** The workspace folder of `uri` (or the first one); says what to do when none is open. */
export function requireFolder(uri?: vscode.Uri): vscode.WorkspaceFolder | undefined {
  const folder = (uri && vscode.workspace.getWorkspaceFolder(uri)) ?? vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    void vscode.window
      .showErrorMessage(
        'AFT: open a folder first. Experiments and their runs (.aft/runs) live in a workspace folder.',
        'Open Folder',
      )
      .then((a) => (a ? vscode.commands.executeCommand('workbench.action.files.openFolder') : undefined));
  }
  return folder;
}

export function isExperimentFile(uri: vscode.Uri | undefined): uri is vscode.Uri {
  return !!uri && uri.scheme === 'file' && /\.aft\.ya?ml$/i.test(uri.fsPath);
}

/** The experiment a command acts on: its argument, the active editor's file, or one picked. */
export async function pickExperiment(arg: unknown, verb: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && isExperimentFile(arg)) return arg;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (isExperimentFile(active)) return active;
  const files = await findExperimentFiles();
  if (files.length === 0) {
    const a = await vscode.window.showWarningMessage(
      'AFT: there is no experiment file (*.aft.yaml) in this workspace.',
      'New Experiment',
    );
    if (a) await vscode.commands.executeCommand('aft.newExperiment');
    return undefined;
  }
  if (files.length === 1) return files[0];
  const pick = await vscode.window.showQuickPick(
    files.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(f), uri: f })),
    { title: `AFT: ${verb}`, placeHolder: 'Experiment file' },
  );
  return pick?.uri;
}

/** Saves an open, modified experiment file so that the run uses what the user sees. */
export async function saveIfDirty(uri: vscode.Uri): Promise<void> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (doc?.isDirty) await doc.save();
}

export function errorData(e: unknown): ErrorData | undefined {
  return e instanceof ResponseError ? (e as ResponseError<ErrorData>).data : undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
