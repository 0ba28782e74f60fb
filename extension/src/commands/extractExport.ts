/**
 * Extract Features (an experiment's pre-trained features into the feature cache, no training)
 * and Export Model to ONNX (a completed run's trained model, verified and costed). Both run in
 * the sidecar (`aft/extract`, `aft/export`), the same library functions as `aft extract` and
 * `aft export`; like Run, they refuse in an untrusted workspace.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportReport, ExtractResult } from '../../../core/common/protocol/rpc';
import { runsBaseDir } from '../config';
import {
  costLines,
  defaultExportPath,
  exportChoices,
  exportSummaryText,
  extractProgressText,
  extractSummaryText,
  readRunSummary,
  type ExportChoice,
} from '../runs/exportText';
import type { Studio } from '../studio';
import { errorData, errorMessage, pickExperiment, requireFolder, requireTrust, saveIfDirty } from './guards';
import { pickRun } from './runs';

/** Shows a sidecar error the way Run does: busy as a warning, bad input with its reasons, else with Show Log. */
async function showFailure(studio: Studio, what: string, e: unknown, file?: string): Promise<void> {
  const data = errorData(e);
  studio.log.error(`${what}: ${errorMessage(e)}`);
  if (data?.kind === 'busy') {
    void vscode.window.showWarningMessage(`AFT: ${errorMessage(e)}`);
    return;
  }
  const reasons =
    data?.kind === 'bad_input' && data.details?.length
      ? data.details.map((d) => (file ? d.replace(`${file}:`, 'line ') : d))
      : [errorMessage(e).split('\n')[0]];
  const a = await vscode.window.showErrorMessage(
    `AFT: ${what}: ${reasons.slice(0, 4).join('; ')}${reasons.length > 4 ? ` (and ${reasons.length - 4} more)` : ''}`,
    'Show Log',
  );
  if (a) studio.log.show();
}

export async function extractFeaturesCommand(studio: Studio, arg?: unknown): Promise<ExtractResult | undefined> {
  if (!requireTrust('Extract Features')) return undefined;
  const file = await pickExperiment(arg, 'Extract Features');
  if (!file) return undefined;
  const folder = requireFolder(file);
  if (!folder) return undefined;
  await saveIfDirty(file);
  const cfg = studio.config();
  const name = path.basename(file.fsPath);
  const extractionId = `extract-${randomUUID().slice(0, 8)}`;
  try {
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `AFT: extracting the features of ${name}`,
        cancellable: true,
      },
      async (progress, token) => {
        let shown = 0;
        const sub = studio.client.onRunEvent((e) => {
          if (e.type !== 'progress' || e.runId !== extractionId) return;
          const pct = Math.floor(e.fraction * 100);
          progress.report({ increment: Math.max(0, pct - shown), message: extractProgressText(e) });
          shown = Math.max(shown, pct);
        });
        const onCancel = token.onCancellationRequested(() => {
          progress.report({ message: 'cancelling…' });
          studio.client
            .cancel(extractionId)
            .catch((err: unknown) => studio.log.warn(`cancel ${extractionId}: ${errorMessage(err)}`));
        });
        try {
          return await studio.client.extract({
            file: file.fsPath,
            workspaceDir: runsBaseDir(folder, cfg),
            extractionId,
            ...(cfg.backend !== 'auto' ? { backend: cfg.backend } : {}),
          });
        } finally {
          sub.dispose();
          onCancel.dispose();
        }
      },
    );
    for (const x of result.entries)
      studio.log.info(
        `${name}: ${x.source} ${x.cached ? 'reused' : 'written'} in ${x.dir}${x.itemsPerSecond !== null ? ` (${x.extracted} examples, ${x.itemsPerSecond.toFixed(1)} items/s on ${x.provider ?? '?'})` : ''}`,
      );
    void vscode.window.showInformationMessage(`AFT: ${name}: ${extractSummaryText(result.entries)}.`);
    return result;
  } catch (e) {
    const kind = errorData(e)?.kind;
    if (kind === 'cancelled') {
      studio.log.info(`${extractionId} (${name}) cancelled`);
      void vscode.window.showInformationMessage(
        `AFT: feature extraction of ${name} was cancelled. Finished chunks are kept; the next extraction or run resumes from them.`,
      );
    } else await showFailure(studio, `the features of ${name} were not extracted`, e, file.fsPath);
    return undefined;
  }
}

/** The method a Runs view row names, if the command came from a method row. */
function preselected(arg: unknown): { method?: string } {
  return typeof arg === 'object' && arg !== null && 'method' in arg && typeof arg.method === 'string'
    ? { method: arg.method }
    : {};
}

async function pickChoice(choices: ExportChoice[], runId: string): Promise<ExportChoice | undefined> {
  if (choices.length === 1) return choices[0];
  const pick = await vscode.window.showQuickPick(
    choices.map((c) => ({
      label: `${c.method} · seed ${c.seed}`,
      description: c.accuracy !== undefined ? `test accuracy ${(c.accuracy * 100).toFixed(2)} %` : undefined,
      choice: c,
    })),
    {
      title: `AFT: Export Model to ONNX (${runId})`,
      placeHolder: 'Method and seed of the model to export',
      matchOnDescription: true,
    },
  );
  return pick?.choice;
}

export async function exportModelCommand(studio: Studio, arg?: unknown): Promise<ExportReport | undefined> {
  if (!requireTrust('Export Model to ONNX')) return undefined;
  const runId = await pickRun(studio, arg, 'AFT: Export Model to ONNX', (s) => s === 'completed');
  const run = runId ? studio.runs.get(runId) : undefined;
  if (!run) return undefined;
  if (run.state !== 'completed') {
    void vscode.window.showWarningMessage(
      `AFT: ${run.runId} is ${run.state}; only a completed run has trained models to export.`,
    );
    return undefined;
  }
  const summary = readRunSummary(run.runDir) ?? run.summary;
  const { method } = preselected(arg);
  const all = summary ? exportChoices(summary) : [];
  const choices = method ? all.filter((c) => c.method === method) : all;
  if (!choices.length) {
    void vscode.window.showErrorMessage(
      `AFT: ${run.runId} has no trained model to export: its summary.json (${path.join(run.runDir, 'summary.json')}) lists no method results${method ? ` for ${method}` : ''}.`,
    );
    return undefined;
  }
  const choice = await pickChoice(choices, run.runId);
  if (!choice) return undefined;
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(defaultExportPath(run.runDir, choice)),
    filters: { 'ONNX model': ['onnx'] },
    saveLabel: 'Export',
    title: `AFT: Export ${choice.method} seed ${choice.seed} to ONNX`,
  });
  if (!target) return undefined;
  if (target.scheme !== 'file') {
    void vscode.window.showErrorMessage(
      `AFT: the model can only be written to a local file, not ${target.toString()}.`,
    );
    return undefined;
  }
  const label = `${choice.method} seed ${choice.seed} of ${run.runId}`;
  let report: ExportReport;
  try {
    report = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `AFT: exporting ${label} to ONNX (verifying against the trained model, timing inference)…`,
      },
      () => studio.client.export({ runDir: run.runDir, method: choice.method, seed: choice.seed, out: target.fsPath }),
    );
  } catch (e) {
    await showFailure(studio, `${label} was not exported`, e);
    return undefined;
  }
  studio.log.info(`${exportSummaryText(report)}\n${costLines(report).join('\n')}`);
  void vscode.window.showInformationMessage(`AFT: ${exportSummaryText(report)}.`, 'Reveal').then(async (a) => {
    if (a !== 'Reveal') return;
    const uri = vscode.Uri.file(report.file);
    await vscode.commands.executeCommand(
      vscode.workspace.getWorkspaceFolder(uri) ? 'revealInExplorer' : 'revealFileInOS',
      uri,
    );
  });
  return report;
}
