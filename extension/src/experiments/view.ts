/** The Experiments view: the experiment files (`*.aft.yaml`, `*.aft.yml`) in the workspace. */
import * as vscode from 'vscode';

export const EXPERIMENT_GLOB = '**/*.{aft.yaml,aft.yml}';
const EXCLUDE = '**/{node_modules,.aft,.git}/**';

export async function findExperimentFiles(): Promise<vscode.Uri[]> {
  const files = await vscode.workspace.findFiles(EXPERIMENT_GLOB, EXCLUDE, 500);
  return files.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
}

export class ExperimentsTreeProvider implements vscode.TreeDataProvider<vscode.Uri>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly watcher = vscode.workspace.createFileSystemWatcher(EXPERIMENT_GLOB, false, true, false);

  constructor() {
    this.watcher.onDidCreate(() => this.refresh());
    this.watcher.onDidDelete(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: vscode.Uri): Promise<vscode.Uri[]> | vscode.Uri[] {
    return node ? [] : findExperimentFiles();
  }

  getTreeItem(uri: vscode.Uri): vscode.TreeItem {
    const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.None);
    item.description = vscode.workspace.asRelativePath(uri.with({ path: uri.path.replace(/\/[^/]*$/, '') }), true);
    item.contextValue = 'aftExperiment';
    item.command = { command: 'vscode.open', title: 'Open', arguments: [uri] };
    return item;
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
  }
}
