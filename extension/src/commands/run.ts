/**
 * Run Experiment, Run Method… and Stop Run. A run is started in the sidecar and followed with
 * `window.withProgress` (its cancel button cancels the run); results land in the Runs view.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunEvent } from '../../../core/common/protocol/events';
import type { RunParams } from '../../../core/common/protocol/rpc';
import { runsBaseDir } from '../config';
import { durationText, progressText, resultsLine } from '../runs/format';
import type { Studio } from '../studio';
import { errorData, errorMessage, pickExperiment, requireFolder, requireTrust, saveIfDirty } from './guards';

export async function runExperimentCommand(
  studio: Studio,
  arg?: unknown,
  methods?: string[],
  newStudy = false,
): Promise<string | undefined> {
  if (!requireTrust('Run Experiment')) return undefined;
  const file = await pickExperiment(arg, 'Run Experiment');
  if (!file) return undefined;
  const folder = requireFolder(file);
  if (!folder) return undefined;
  await saveIfDirty(file);
  const cfg = studio.config();
  const params: RunParams = {
    file: file.fsPath,
    workspaceDir: runsBaseDir(folder, cfg),
    ...(cfg.backend !== 'auto' ? { backend: cfg.backend } : {}),
    ...(methods?.length ? { methods } : {}),
    ...(newStudy ? { newStudy } : {}),
  };
  const name = path.basename(file.fsPath);
  let started;
  try {
    started = await studio.client.run(params);
  } catch (e) {
    const data = errorData(e);
    studio.log.error(`${name} was not run: ${errorMessage(e)}`);
    if (data?.kind === 'busy') {
      const a = await vscode.window.showWarningMessage(`AFT: ${errorMessage(e)}`, 'Stop Run');
      if (a) await vscode.commands.executeCommand('aft.stopRun');
    } else if (data?.kind === 'bad_input' && data.location?.field === 'study') {
      // An unfinished study of an earlier version of this file: continuing it would mix versions.
      const a = await vscode.window.showWarningMessage(`AFT: ${errorMessage(e)}`, 'Start a New Study');
      if (a) return runExperimentCommand(studio, file, methods, true);
    } else if (data?.kind === 'bad_input') {
      const reasons = data.details?.length
        ? data.details.map((d) => d.replace(`${file.fsPath}:`, 'line '))
        : [errorMessage(e)];
      const a = await vscode.window.showErrorMessage(
        `AFT: ${name} was not run: ${reasons.slice(0, 4).join('; ')}${reasons.length > 4 ? ` (and ${reasons.length - 4} more)` : ''}`,
        'Show Log',
      );
      if (a) studio.log.show();
    } else {
      const a = await vscode.window.showErrorMessage(
        `AFT: ${name} could not be started: ${errorMessage(e)}`,
        'Show Log',
      );
      if (a) studio.log.show();
    }
    return undefined;
  }
  studio.log.info(`run ${started.runId} started (${started.runDir})`);
  void studio.runs.refresh();
  if (started.studyDir) void followStudy(studio, started.studyDir, started.runId, name);
  else void followRun(studio, started.runId, name);
  return started.runId;
}

/** Shows a run's progress in a cancellable notification and tells how it ended. */
function followRun(studio: Studio, runId: string, name: string): Thenable<void> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `AFT: ${name}`, cancellable: true },
    (progress, token) =>
      new Promise<void>((resolve) => {
        let shown = 0;
        const sub = studio.client.onRunEvent((e: RunEvent) => {
          if (e.runId !== runId) return;
          if (e.type === 'progress') {
            const pct = Math.floor(e.fraction * 100);
            progress.report({ increment: Math.max(0, pct - shown), message: progressText(e) });
            shown = Math.max(shown, pct);
          } else if (e.type === 'status' && e.state !== 'running') {
            sub.dispose();
            resolve();
            void announce(studio, runId, name, e.state, e.message);
          }
        });
        token.onCancellationRequested(() => {
          progress.report({ message: 'cancelling…' });
          void studio.client
            .cancel(runId)
            .catch((err: unknown) => studio.log.warn(`cancel ${runId}: ${errorMessage(err)}`));
        });
      }),
  );
}

/**
 * Shows a study's progress over all its values in one cancellable notification (the cancel
 * stops the value running then; `aft run` or Run Experiment on the file continues the study).
 */
function followStudy(studio: Studio, studyDir: string, firstRunId: string, name: string): Thenable<void> {
  let runId = firstRunId;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `AFT study: ${name}`, cancellable: true },
    (progress, token) =>
      new Promise<void>((resolve) => {
        let shown = 0;
        const sub = studio.client.onRunEvent((e: RunEvent) => {
          if ((e.type !== 'progress' && e.type !== 'status') || e.study?.studyDir !== studyDir) return;
          runId = e.runId;
          const s = e.study;
          if (e.type === 'progress') {
            const pct = Math.floor(e.study.fraction * 100);
            const text = progressText({ fraction: e.study.fraction, label: e.label, etaSeconds: e.study.etaSeconds });
            progress.report({
              increment: Math.max(0, pct - shown),
              message: `value ${s.value + 1}/${s.values} (${s.label}) · ${text}`,
            });
            shown = Math.max(shown, pct);
          } else if (e.state !== 'running' && (e.state !== 'completed' || s.value === s.values - 1)) {
            sub.dispose();
            resolve();
            void announceStudy(studio, studyDir, name, e.state, e.message);
          }
        });
        token.onCancellationRequested(() => {
          progress.report({ message: 'cancelling…' });
          void studio.client
            .cancel(runId)
            .catch((err: unknown) => studio.log.warn(`cancel ${runId}: ${errorMessage(err)}`));
        });
      }),
  );
}

async function announceStudy(
  studio: Studio,
  studyDir: string,
  name: string,
  state: string,
  message?: string,
): Promise<void> {
  await studio.runs.refresh();
  const text =
    state === 'completed'
      ? `AFT: the study ${name} completed.`
      : `AFT: the study ${name} stopped (${state}${message ? `: ${message.split('\n')[0]}` : ''}); run the file again to continue it.`;
  const show = state === 'completed' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  const a = await show(text, 'Show Study');
  if (a) await vscode.commands.executeCommand('aft.showStudy', studyDir);
}

async function announce(studio: Studio, runId: string, name: string, state: string, message?: string): Promise<void> {
  if (state === 'completed') {
    await studio.runs.refresh();
    const row = studio.runs.get(runId);
    const summary = row?.summary;
    const a = await vscode.window.showInformationMessage(
      `AFT: ${name} completed${summary ? ` in ${durationText(summary.seconds)}: ${resultsLine(summary.methods)}` : ''}`,
      'Show in Runs',
    );
    if (a) await vscode.commands.executeCommand('aft.revealRun', runId);
  } else if (state === 'cancelled') {
    void vscode.window.showInformationMessage(`AFT: ${name} was cancelled.`);
  } else {
    const a = await vscode.window.showErrorMessage(
      `AFT: ${name} failed: ${(message ?? 'unknown error').split('\n')[0]}`,
      'Show Log',
    );
    if (a) studio.log.show();
  }
}

export async function runMethodCommand(studio: Studio, arg?: unknown): Promise<string | undefined> {
  if (!requireTrust('Run Method')) return undefined;
  const file = await pickExperiment(arg, 'Run Method…');
  if (!file) return undefined;
  await saveIfDirty(file);
  let methods: string[];
  try {
    const v = await studio.client.validate(file.fsPath);
    const errors = v.problems.filter((p) => p.severity === 'error');
    if (errors.length) {
      void vscode.window.showErrorMessage(
        `AFT: ${path.basename(file.fsPath)} has ${errors.length} problem(s): ${errors
          .slice(0, 3)
          .map((p) => `line ${p.line}: ${p.field}: ${p.message}`)
          .join('; ')}`,
      );
      return undefined;
    }
    methods = v.methods;
  } catch (e) {
    void vscode.window.showErrorMessage(`AFT: could not read ${path.basename(file.fsPath)}: ${errorMessage(e)}`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    methods.map((m) => ({ label: m })),
    { title: 'AFT: Run Method…', placeHolder: 'Methods to run (the others are skipped)', canPickMany: true },
  );
  if (!picked?.length) return undefined;
  return runExperimentCommand(
    studio,
    file,
    picked.map((p) => p.label),
  );
}

export async function stopRunCommand(studio: Studio, arg?: unknown): Promise<void> {
  const fromView =
    typeof arg === 'object' && arg !== null && 'runId' in arg
      ? String(arg.runId)
      : typeof arg === 'string'
        ? arg
        : undefined;
  // This sidecar's runs, and runs that outlived the window that started them (the store says
  // running and their process is alive): those are stopped through their folder.
  const running = studio.runs.running;
  let runId = fromView;
  if (!runId) {
    if (running.length === 0) {
      void vscode.window.showInformationMessage('AFT: no run is in progress.');
      return;
    }
    if (running.length === 1) runId = running[0].runId;
    else {
      const pick = await vscode.window.showQuickPick(
        running.map((r) => ({ label: r.runId, description: r.live ? progressText(r.live) : 'running' })),
        { title: 'AFT: Stop Run' },
      );
      runId = pick?.label;
    }
  }
  if (!runId) return;
  try {
    const cancelled = await studio.client.cancel(runId, studio.runs.get(runId)?.runDir);
    if (!cancelled) void vscode.window.showInformationMessage(`AFT: ${runId} is not running.`);
    else studio.log.info(`cancel requested for ${runId}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`AFT: could not stop ${runId}: ${errorMessage(e)}`);
  }
}
