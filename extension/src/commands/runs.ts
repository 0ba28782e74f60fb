/** Commands on runs: open the folder, delete (with confirmation), reveal, and later-version features; the run picker. */
import * as vscode from 'vscode';
import type { Studio } from '../studio';
import { showCompare, showDashboard, showStudy } from '../dashboard';
import { errorMessage } from './guards';

function runIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && 'runId' in arg) return String(arg.runId);
  return undefined;
}

export async function pickRun(
  studio: Studio,
  arg: unknown,
  title: string,
  filter: (state: string) => boolean = () => true,
): Promise<string | undefined> {
  const id = runIdOf(arg);
  if (id) return id;
  // Right after activation the list may not be loaded yet: read the run store before saying
  // there is nothing to pick.
  if (studio.runs.runs.length === 0) await studio.runs.refresh();
  const runs = studio.runs.runs.filter((r) => filter(r.state));
  if (!runs.length) {
    void vscode.window.showInformationMessage('AFT: there are no runs yet.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.runId, description: r.state })),
    { title },
  );
  return pick?.label;
}

export async function openRunFolderCommand(studio: Studio, arg?: unknown): Promise<void> {
  const runId = await pickRun(studio, arg, 'AFT: Open Run Folder');
  const run = runId ? studio.runs.get(runId) : undefined;
  if (!run) return;
  const uri = vscode.Uri.file(run.runDir);
  if (vscode.workspace.getWorkspaceFolder(uri)) {
    await vscode.commands.executeCommand('revealInExplorer', uri);
  } else {
    await vscode.commands.executeCommand('revealFileInOS', uri);
  }
}

export async function deleteRunCommand(studio: Studio, arg?: unknown): Promise<void> {
  const runId = await pickRun(studio, arg, 'AFT: Delete Run', (s) => s !== 'running');
  const run = runId ? studio.runs.get(runId) : undefined;
  if (!run) return;
  if (run.state === 'running') {
    void vscode.window.showWarningMessage(`AFT: ${run.runId} is running; stop it before deleting it.`);
    return;
  }
  const ok = await vscode.window.showWarningMessage(
    `Delete run ${run.runId}?`,
    { modal: true, detail: `This deletes the folder ${run.runDir} with its metrics, ρ and checkpoints.` },
    'Delete',
  );
  if (ok !== 'Delete') return;
  try {
    await vscode.workspace.fs.delete(vscode.Uri.file(run.runDir), { recursive: true, useTrash: false });
    studio.log.info(`deleted run ${run.runId}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`AFT: could not delete ${run.runDir}: ${errorMessage(e)}`);
  }
  await studio.runs.refresh();
}

/** Shows the run in the Runs view (status bar click, notifications). */
export async function revealRunCommand(studio: Studio, arg?: unknown): Promise<void> {
  const runId = runIdOf(arg) ?? studio.runs.running[0]?.runId ?? studio.runs.runs[0]?.runId;
  if (!runId) {
    await vscode.commands.executeCommand('workbench.view.extension.aft');
    return;
  }
  await studio.revealRun(runId);
}

/** Opens the live dashboard of a run (Runs view item, status bar, or a picked run). */
export async function showDashboardCommand(studio: Studio, arg?: unknown): Promise<void> {
  const runId = runIdOf(arg) ?? (await pickRun(studio, undefined, 'AFT: Show Dashboard'));
  const run = runId ? studio.runs.get(runId) : undefined;
  if (!run) return;
  showDashboard(studio.context, run.runDir);
}

/**
 * Compares runs: the Runs view's multi-selection (the view passes the clicked item and the
 * selection), else a multi-select pick of completed runs.
 */
export async function compareRunsCommand(studio: Studio, arg?: unknown, selection?: unknown): Promise<void> {
  let ids = (Array.isArray(selection) ? selection : []).map(runIdOf).filter((x): x is string => x !== undefined);
  if (ids.length < 2) {
    if (studio.runs.runs.length === 0) await studio.runs.refresh();
    const done = studio.runs.runs.filter((r) => r.state === 'completed');
    if (done.length === 0) {
      void vscode.window.showInformationMessage('AFT: there are no completed runs to compare yet.');
      return;
    }
    const preselected = new Set([runIdOf(arg), ...ids].filter(Boolean));
    const picks = await vscode.window.showQuickPick(
      done.map((r) => ({ label: r.runId, description: r.experiment, picked: preselected.has(r.runId) })),
      { title: 'AFT: Compare Runs', canPickMany: true, placeHolder: 'Choose the runs to compare' },
    );
    if (!picks?.length) return;
    ids = picks.map((p) => p.label);
  }
  const dirs = ids.map((id) => studio.runs.get(id)?.runDir).filter((d): d is string => d !== undefined);
  showCompare(studio.context, dirs);
}

/** Opens a study's view (a Runs view study item, a notification, or a picked study). */
export async function showStudyCommand(studio: Studio, arg?: unknown): Promise<void> {
  let dir =
    typeof arg === 'string'
      ? arg
      : typeof arg === 'object' && arg !== null && 'dir' in arg
        ? String(arg.dir)
        : undefined;
  if (!dir) {
    if (studio.runs.studies.length === 0) await studio.runs.refresh();
    const studies = studio.runs.studies;
    if (!studies.length) {
      void vscode.window.showInformationMessage('AFT: there are no studies yet (an experiment file with `study:`).');
      return;
    }
    const pick = await vscode.window.showQuickPick(
      studies.map((s) => ({
        label: s.record.studyId,
        description: `${s.state}, ${s.done}/${s.values.length}`,
        dir: s.dir,
      })),
      { title: 'AFT: Show Study' },
    );
    dir = pick?.dir;
  }
  if (dir) showStudy(studio.context, dir);
}
