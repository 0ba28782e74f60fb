/** The extension's settings (declared in package.json under `aft.*`), read in one place. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendChoice } from '../../core/common/protocol/rpc';

export interface Config {
  /** Node executable for the sidecar; empty: the one running the extension host. */
  nodePath: string;
  backend: BackendChoice;
  /** `auto`, `cpu` (no CUDA, no WebGPU), or a GPU index (sets CUDA_VISIBLE_DEVICES for the sidecar). */
  device: string;
  maxConcurrentRuns: number;
  /** Folder that holds `.aft/runs`, relative to the workspace folder; empty: the folder itself. */
  runsFolder: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function readConfig(): Config {
  const c = vscode.workspace.getConfiguration('aft');
  return {
    nodePath: c.get<string>('sidecar.nodePath', '').trim(),
    backend: c.get<BackendChoice>('backend', 'auto'),
    device: c.get<string>('device', 'auto').trim() || 'auto',
    maxConcurrentRuns: Math.max(1, Math.floor(c.get<number>('maxConcurrentRuns', 1))),
    runsFolder: c.get<string>('runsFolder', '').trim(),
    logLevel: c.get<Config['logLevel']>('logLevel', 'info'),
  };
}

/** Settings whose change needs a new sidecar process. */
export const SIDECAR_SETTINGS = ['aft.sidecar.nodePath', 'aft.device', 'aft.maxConcurrentRuns', 'aft.logLevel'];

/** The folder whose `.aft/runs/` receives the runs of `folder` (the `workspaceDir` of a run). */
export function runsBaseDir(folder: vscode.WorkspaceFolder, cfg: Config): string {
  return cfg.runsFolder ? path.resolve(folder.uri.fsPath, cfg.runsFolder) : folder.uri.fsPath;
}

/** Environment for the sidecar that follows from the settings. */
export function deviceEnv(cfg: Config): Record<string, string> {
  if (cfg.device === 'cpu') return { CUDA_VISIBLE_DEVICES: '', AFT_WEBGPU: 'off' };
  if (/^\d+(,\d+)*$/.test(cfg.device)) return { CUDA_VISIBLE_DEVICES: cfg.device };
  return {};
}
