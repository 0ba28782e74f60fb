/**
 * The extension's composition root: the log, the sidecar client, the run model, the views, the
 * status bar and the commands. Activation only wires things up; the sidecar is spawned after
 * activation returns (and not at all in an untrusted workspace).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InitializeResult } from '../../core/common/protocol/rpc';
import {
  compareRunsCommand,
  deleteRunCommand,
  openRunFolderCommand,
  revealRunCommand,
  showDashboardCommand,
  showStudyCommand,
} from './commands/runs';
import { showDashboard } from './dashboard';
import { exportModelCommand, extractFeaturesCommand } from './commands/extractExport';
import { installGpuRuntimeCommand, restartSidecarCommand, selectBackendCommand } from './commands/compute';
import { newExperimentCommand } from './commands/experiment';
import { runExperimentCommand, runMethodCommand, stopRunCommand } from './commands/run';
import { ComputeTreeProvider } from './compute/view';
import { deviceEnv, readConfig, runsBaseDir, SIDECAR_SETTINGS, type Config } from './config';
import { ExperimentsTreeProvider } from './experiments/view';
import { gpuRuntimeDir, isGpuRuntimeInstalled } from '../../core/node/gpu/runtime';
import { runInfos } from '../../core/node/runs/store';
import { listStudies } from '../../core/node/runs/studies';
import { RunsModel } from './runs/model';
import { RunsTreeProvider, type RunNode } from './runs/view';
import { SidecarClient, type SidecarOptions } from './sidecar/client';
import { StatusBar } from './status/statusBar';
import { registerTableSerializer, TablePanel } from './table/tablePanel';
import { startLanguageClient } from './language/client';

/** What the extension returns from `activate` (used by the integration tests). */
export interface AftApi {
  sidecarPid(): number | undefined;
  sidecarState(): string;
}

export class Studio implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly client: SidecarClient;
  readonly runs: RunsModel;
  private readonly runsView: vscode.TreeView<RunNode>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(readonly context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('AFT Studio', { log: true });
    this.client = this.createClient();
    // The Runs view reads the run store itself (plain file reads, like the dashboards): it lists
    // runs before the sidecar starts, and in an untrusted workspace, where none starts.
    this.runs = new RunsModel(
      { listRuns: (dir) => Promise.resolve(runInfos(dir)), listStudies: (dir) => Promise.resolve(listStudies(dir)) },
      () => this.workspaceDirs(),
      this.log,
    );
    this.disposables.push(
      this.client.onRunEvent((e) => {
        if (e.type === 'log')
          this.log[
            e.level === 'warn' ? 'warn' : e.level === 'error' ? 'error' : e.level === 'debug' ? 'debug' : 'info'
          ](`${e.runId ? `[${e.runId}] ` : ''}${e.message}`);
        this.runs.handle(e);
      }),
      this.client.onState((s) => {
        if (s === 'ready') void this.runs.refresh();
      }),
      this.client.onFailure((f) => {
        const tail = f.stderrTail.slice(-3).join(' | ');
        void vscode.window
          .showErrorMessage(`AFT: ${f.message}${tail ? ` — last output: ${tail}` : ''}`, 'Show Log', 'Restart Sidecar')
          .then((a) => {
            if (a === 'Show Log') this.log.show();
            if (a === 'Restart Sidecar') void vscode.commands.executeCommand('aft.restartSidecar');
          });
      }),
    );

    const experiments = new ExperimentsTreeProvider();
    const runsTree = new RunsTreeProvider(this.runs);
    const compute = new ComputeTreeProvider(
      this.client,
      () => this.config().backend,
      () => vscode.workspace.isTrusted,
    );
    this.runsView = vscode.window.createTreeView('aft.runs', {
      treeDataProvider: runsTree,
      showCollapseAll: true,
      canSelectMany: true,
    });
    this.disposables.push(
      experiments,
      runsTree,
      compute,
      this.runsView,
      vscode.window.registerTreeDataProvider('aft.experiments', experiments),
      vscode.window.registerTreeDataProvider('aft.compute', compute),
      new StatusBar(
        this.client,
        this.runs,
        () => this.config().backend,
        () => vscode.workspace.isTrusted,
      ),
    );

    // After activation returns: a workspace may hold many runs.
    const firstList = setImmediate(() => void this.runs.refresh());
    this.disposables.push({ dispose: () => clearImmediate(firstList) });

    // Runs written by others (the `aft` CLI in a terminal, another window) show up too.
    const watcher = vscode.workspace.createFileSystemWatcher('**/.aft/runs/*/status.json');
    let timer: NodeJS.Timeout | undefined;
    const refreshSoon = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.runs.refresh(), 500);
    };
    this.disposables.push(watcher, watcher.onDidCreate(refreshSoon), watcher.onDidDelete(refreshSoon), {
      dispose: () => clearTimeout(timer),
    });

    this.registerCommands(experiments, compute);
    // An experiments table open before a window reload comes back after it.
    registerTableSerializer(context, () => this.workspaceDirs(), this.log);
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('aft')) compute.refresh();
        if (SIDECAR_SETTINGS.some((s) => e.affectsConfiguration(s)) && this.client.state !== 'stopped') {
          void vscode.window
            .showInformationMessage('AFT: restart the sidecar to apply the new settings.', 'Restart Sidecar')
            .then((a) => (a ? this.restartSidecar() : undefined));
        }
        if (e.affectsConfiguration('aft.runsFolder')) void this.runs.refresh();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.runs.refresh()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.startSidecar();
        compute.refresh();
      }),
    );
  }

  /**
   * Starts the experiment-file language server. It validates in every workspace, trusted or not:
   * it only reads files (headers of referenced arrays and models), never runs anything.
   */
  startLanguageServer(): void {
    startLanguageClient(this.context).then(
      () => this.log.info('language server for experiment files started'),
      (e: unknown) => this.log.error(`language server did not start: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  config(): Config {
    return readConfig();
  }

  private workspaceDirs(): string[] {
    const cfg = this.config();
    return (vscode.workspace.workspaceFolders ?? []).map((f) => runsBaseDir(f, cfg));
  }

  private createClient(): SidecarClient {
    return new SidecarClient(this.clientOptions());
  }

  /** Sidecar options from the current settings. */
  private clientOptions(): SidecarOptions {
    const cfg = this.config();
    const storage = this.context.globalStorageUri.fsPath;
    const env: Record<string, string> = { ...deviceEnv(cfg) };
    if (isGpuRuntimeInstalled(gpuRuntimeDir(storage))) {
      // The GPU runtime resolves @tensorflow/tfjs from the extension's own node_modules;
      // AFT_GPU_RUNTIME tells the sidecar where its onnxruntime-node with CUDA is.
      env.AFT_GPU_RUNTIME = gpuRuntimeDir(storage);
      env.NODE_PATH = [
        path.join(gpuRuntimeDir(storage), 'node_modules'),
        this.context.asAbsolutePath('node_modules'),
      ].join(path.delimiter);
    }
    return {
      serverScript: this.context.asAbsolutePath(path.join('dist', 'sidecar', 'server.js')),
      ...(cfg.nodePath ? { nodePath: cfg.nodePath } : {}),
      env,
      init: { maxConcurrentRuns: cfg.maxConcurrentRuns, logLevel: cfg.logLevel },
      log: this.log,
    };
  }

  /** Starts the sidecar in the background, in trusted workspaces only. */
  startSidecar(): void {
    if (!vscode.workspace.isTrusted) {
      this.log.info('untrusted workspace: the sidecar is not started and nothing runs');
      return;
    }
    this.client.start().catch(() => {
      // Reported through onFailure with a Show Log action.
    });
  }

  /** A fresh sidecar process with the current settings (its runs are cancelled first). */
  restartSidecar(): Promise<InitializeResult> {
    this.client.setOptions(this.clientOptions());
    return this.client.restart();
  }

  async revealRun(runId: string): Promise<void> {
    await vscode.commands.executeCommand('aft.runs.focus');
    try {
      await this.runsView.reveal({ kind: 'run', runId }, { select: true, focus: true, expand: true });
    } catch (e) {
      this.log.debug(`reveal ${runId}: ${(e as Error).message}`);
    }
  }

  private registerCommands(experiments: ExperimentsTreeProvider, compute: ComputeTreeProvider): void {
    const reg = (id: string, fn: (...args: unknown[]) => unknown): void => {
      this.disposables.push(vscode.commands.registerCommand(id, fn));
    };
    reg('aft.newExperiment', (t) => newExperimentCommand(t));
    reg('aft.runExperiment', (arg) => runExperimentCommand(this, arg));
    // The "Run <method> only" code lens passes the method: it runs at once, without the picker.
    reg('aft.runMethod', (arg, method) =>
      typeof method === 'string' ? runExperimentCommand(this, arg, [method]) : runMethodCommand(this, arg),
    );
    reg('aft.stopRun', (arg) => stopRunCommand(this, arg));
    reg('aft.extractFeatures', (arg) => extractFeaturesCommand(this, arg));
    reg('aft.showDashboard', (arg) => showDashboardCommand(this, arg));
    reg('aft.showStudy', (arg) => showStudyCommand(this, arg));
    reg('aft.showStudyRun', (runDir) => typeof runDir === 'string' && showDashboard(this.context, runDir));
    reg('aft.compareRuns', (arg, selection) => compareRunsCommand(this, arg, selection));
    reg('aft.showExperimentsTable', () => TablePanel.show(this.context, () => this.workspaceDirs(), this.log));
    reg('aft.exportModel', (arg) => exportModelCommand(this, arg));
    reg('aft.selectBackend', () => selectBackendCommand(this));
    reg('aft.showSidecarLog', () => this.log.show());
    reg('aft.restartSidecar', () => restartSidecarCommand(this));
    reg('aft.installGpuRuntime', () => installGpuRuntimeCommand(this));
    reg('aft.openRunFolder', (arg) => openRunFolderCommand(this, arg));
    reg('aft.deleteRun', (arg) => deleteRunCommand(this, arg));
    reg('aft.revealRun', (arg) => revealRunCommand(this, arg));
    reg('aft.refreshRuns', () => this.runs.refresh());
    reg('aft.refreshExperiments', () => experiments.refresh());
    reg('aft.refreshCompute', () => compute.refresh());
  }

  api(): AftApi {
    return { sidecarPid: () => this.client.pid, sidecarState: () => this.client.state };
  }

  /** Deactivation: the sidecar is asked to stop (runs cancelled) and killed after 5 s. */
  /** The window closes: runs in flight train on in their sidecar (client.detachOrStop). */
  async shutdown(): Promise<void> {
    await this.client.detachOrStop(5000);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.runs.dispose();
    this.client.dispose();
    this.log.dispose();
  }
}
