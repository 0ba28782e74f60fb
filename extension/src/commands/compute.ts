/** Select Compute Backend, Restart Sidecar, Install GPU Runtime. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendChoice } from '../../../core/common/protocol/rpc';
import { adapterName } from '../compute/view';
import { formatGpuReport, gpuReport } from '../../../core/node/gpu/check';
import { GpuInstallError, installGpuRuntime } from '../../../core/node/gpu/install';
import { probeGpuMachine } from '../../../core/node/gpu/probe';
import { gpuRuntimeDir } from '../../../core/node/gpu/runtime';
import type { Studio } from '../studio';
import { errorMessage } from './guards';

export async function selectBackendCommand(studio: Studio): Promise<void> {
  let info = studio.client.info;
  if (!info && vscode.workspace.isTrusted) info = await studio.client.start().catch(() => undefined);
  const current = studio.config().backend;
  type Item = vscode.QuickPickItem & { id: BackendChoice };
  const base: Item[] = [
    {
      id: 'auto',
      label: 'auto',
      description: `the first that loads${info?.defaultBackend ? ` (now: ${info.defaultBackend})` : ''}`,
    },
    ...(info?.backends ?? []).map((b): Item => ({
      id: b.id as BackendChoice,
      label: b.id,
      description: !b.available
        ? `unavailable: ${b.reason ?? ''}`
        : b.adapter
          ? `${b.description}, on ${adapterName(b.adapter)}${b.adapter.software ? ' (software)' : ''}`
          : b.description,
    })),
  ];
  const items = base.map((i): Item => (i.id === current ? { ...i, picked: true, detail: 'current setting' } : i));
  const pick = await vscode.window.showQuickPick(items, { title: 'AFT: Select Compute Backend' });
  if (!pick) return;
  const target = vscode.workspace.workspaceFolders?.length
    ? vscode.ConfigurationTarget.Workspace
    : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('aft').update('backend', pick.id, target);
  const b = info?.backends.find((x) => x.id === pick.id);
  if (b && !b.available)
    void vscode.window.showWarningMessage(
      `AFT: backend ${b.id} cannot load here (${b.reason ?? 'unknown reason'}); runs will fail until it can.`,
    );
}

export async function restartSidecarCommand(studio: Studio): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('AFT: the sidecar does not run in an untrusted workspace.');
    return;
  }
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'AFT: restarting the sidecar' },
    async () => {
      try {
        const info = await studio.restartSidecar();
        void vscode.window.showInformationMessage(`AFT: sidecar restarted (pid ${info.pid}).`);
      } catch {
        // The failure notification (with Show Log) has been shown by the client's onFailure.
      }
    },
  );
}

export async function installGpuRuntimeCommand(studio: Studio): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('AFT: Install GPU Runtime is not available in an untrusted workspace.');
    return;
  }
  const storageDir = studio.context.globalStorageUri.fsPath;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'AFT: installing the GPU runtime', cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      try {
        const dir = await installGpuRuntime({
          dir: gpuRuntimeDir(storageDir),
          signal: controller.signal,
          onProgress: (m) => {
            studio.log.info(`[gpu runtime] ${m}`);
            progress.report({ message: m });
          },
        });
        studio.log.info(`GPU runtime installed in ${dir}`);
        // What the builds need against what this machine has (the same check as `aft gpu check`;
        // WebGPU is the sidecar's to look at: the Compute view shows its adapter).
        progress.report({ message: 'checking CUDA and cuDNN' });
        // The sidecar's own onnxruntime-node: next to it in the .vsix, else the repository's.
        const shipped = studio.context.asAbsolutePath(path.join('dist', 'sidecar', 'node_modules', 'onnxruntime-node'));
        const report = gpuReport(
          probeGpuMachine({ runtimeDir: dir, ...(fs.existsSync(shipped) ? { onnxDir: shipped } : {}) }),
        );
        studio.log.info(`GPU check:\n${formatGpuReport(report)}`);
        const cuda = report.verdicts.filter((v) => v.id !== 'webgpu');
        const missing = cuda.filter((v) => !v.usable);
        if (missing.length) {
          const a = await vscode.window.showWarningMessage(
            `AFT: GPU runtime installed, but this machine lacks what it needs: ${missing.map((v) => `${v.id}: ${v.summary}`).join('. ')}. The log says what to install.`,
            'Show Log',
            'Restart Sidecar',
          );
          if (a === 'Show Log') studio.log.show();
          if (a === 'Restart Sidecar') await studio.restartSidecar();
          return;
        }
        const a = await vscode.window.showInformationMessage(
          'AFT: GPU runtime installed; CUDA and cuDNN are as it needs. Restart the sidecar to use it.',
          'Restart Sidecar',
        );
        if (a) await studio.restartSidecar();
      } catch (e) {
        const msg =
          e instanceof GpuInstallError ? e.message : `the GPU runtime could not be installed: ${errorMessage(e)}`;
        studio.log.error(msg);
        const a = await vscode.window.showErrorMessage(`AFT: ${msg}`, 'Show Log');
        if (a) studio.log.show();
      }
    },
  );
}
