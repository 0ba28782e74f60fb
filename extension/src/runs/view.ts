/**
 * The Runs view: one item per run (state, live progress), with one row per method and its
 * test accuracy (mean ± SE over seeds). Context menu commands are declared in package.json
 * against the `contextValue`s set here (`aftRun.<state>`, `aftMethod`).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MethodSummary } from '../../../core/common/protocol/events';
import { accuracyText, durationText, progressText, seedsText } from './format';
import type { RunRow, RunsModel } from './model';

export type RunNode =
  | { kind: 'run'; runId: string }
  | { kind: 'method'; runId: string; method: string }
  | { kind: 'note'; runId: string; text: string };

const ICONS: Record<RunRow['state'], vscode.ThemeIcon> = {
  running: new vscode.ThemeIcon('sync~spin'),
  completed: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  cancelled: new vscode.ThemeIcon('circle-slash'),
};

function startedText(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
}

function runDescription(r: RunRow): string {
  if (r.state === 'running') return r.live ? progressText(r.live) : r.progress ? progressText(r.progress) : 'running';
  if (r.state === 'completed') return `completed${r.summary ? ` in ${durationText(r.summary.seconds)}` : ''}`;
  return r.state;
}

function methodItem(run: RunRow, name: string, m: MethodSummary): vscode.TreeItem {
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
  item.id = `${run.runId}/${name}`;
  item.description = `${accuracyText(m)} (${seedsText(m)})`;
  item.contextValue = 'aftMethod';
  item.iconPath = new vscode.ThemeIcon('symbol-method');
  const perSeed = Object.entries(m.test_accuracy.per_seed).map(([s, a]) => `seed ${s}: ${(a * 100).toFixed(2)}%`);
  const rho = m.rho_mean_by_source
    ? Object.entries(m.rho_mean_by_source).map(([s, v]) => `ρ ${s}: ${v.toFixed(3)}`)
    : [];
  item.tooltip = [
    `${name} (${m.kind}): test accuracy ${accuracyText(m)}`,
    ...perSeed,
    m.kind === 'stl' ? '' : `β = ${m.beta}`,
    ...rho,
    `trained in ${durationText(m.train_seconds)}`,
  ]
    .filter(Boolean)
    .join('\n');
  return item;
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunNode> {
  private readonly changed = new vscode.EventEmitter<RunNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: RunsModel) {
    model.onDidChange(() => this.changed.fire(undefined));
  }

  getChildren(node?: RunNode): RunNode[] {
    if (!node) return this.model.runs.map((r) => ({ kind: 'run', runId: r.runId }));
    if (node.kind !== 'run') return [];
    const run = this.model.get(node.runId);
    if (!run) return [];
    const rows: RunNode[] = Object.keys(run.results).map((method) => ({ kind: 'method', runId: run.runId, method }));
    if (run.state === 'running' && run.live)
      rows.push({ kind: 'note', runId: run.runId, text: progressText(run.live) });
    if ((run.state === 'failed' || run.state === 'cancelled') && run.message)
      rows.push({ kind: 'note', runId: run.runId, text: run.message.split('\n')[0] });
    return rows;
  }

  getParent(node: RunNode): RunNode | undefined {
    return node.kind === 'run' ? undefined : { kind: 'run', runId: node.runId };
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    const run = this.model.get(node.runId);
    if (!run) return new vscode.TreeItem(node.runId);
    if (node.kind === 'method') return methodItem(run, node.method, run.results[node.method]);
    if (node.kind === 'note') {
      const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
      item.id = `${run.runId}/#note`;
      item.iconPath = new vscode.ThemeIcon(run.state === 'running' ? 'watch' : 'info');
      item.tooltip = run.message ?? node.text;
      return item;
    }
    const hasChildren = Object.keys(run.results).length > 0 || run.state !== 'completed';
    const newest = this.model.runs[0]?.runId === run.runId;
    const item = new vscode.TreeItem(
      `${run.experiment} · ${startedText(run.started)}`,
      !hasChildren
        ? vscode.TreeItemCollapsibleState.None
        : newest || run.state === 'running'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = run.runId;
    item.description = runDescription(run);
    item.iconPath = ICONS[run.state];
    item.contextValue = `aftRun.${run.state}`;
    item.resourceUri = vscode.Uri.file(run.runDir);
    item.tooltip = new vscode.MarkdownString(
      [
        `**${run.runId}**`,
        `state: ${run.state}`,
        run.message ? `message: ${run.message}` : '',
        `folder: ${path.relative(path.dirname(path.dirname(path.dirname(run.runDir))), run.runDir)}`,
        run.summary ? `backend: ${run.summary.backend}` : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
    return item;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
