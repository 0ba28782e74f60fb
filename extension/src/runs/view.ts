/**
 * The Runs view: one item per run (state, live progress), with one row per method and its
 * test accuracy (mean ± SE over seeds). Context menu commands are declared in package.json
 * against the `contextValue`s set here (`aftRun.<state>`, `aftMethod`).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MethodSummary } from '../../../core/common/protocol/events';
import { accuracyText, durationText, progressText, seedsText } from './format';
import type { RunRow, RunsModel, StudyRow } from './model';

export type RunNode =
  | { kind: 'run'; runId: string }
  /** A study; `runId` is its running value's run (what Stop Run stops). */
  | { kind: 'study'; dir: string; runId?: string }
  | { kind: 'studyValue'; dir: string; index: number }
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

function studyNode(s: StudyRow): RunNode {
  const runId = s.live?.runId ?? s.values.find((v) => v.state === 'running')?.runId;
  return { kind: 'study', dir: s.dir, ...(runId ? { runId } : {}) };
}

const STUDY_ICONS: Record<StudyRow['state'], vscode.ThemeIcon> = {
  ...ICONS,
  incomplete: new vscode.ThemeIcon('debug-pause'),
};

function studyItem(s: StudyRow): vscode.TreeItem {
  const item = new vscode.TreeItem(
    `${s.record.experiment} · study · ${startedText(s.record.started)}`,
    vscode.TreeItemCollapsibleState.Collapsed,
  );
  item.id = `study:${s.dir}`;
  const n = s.values.length;
  const live = s.live?.study;
  // Live events when this window started the study; else what the running value's status.json says.
  const running = s.values.find((v) => v.state === 'running');
  item.description =
    s.state === 'running' && live
      ? `value ${live.value + 1}/${n} (${live.label}) · ${progressText({ fraction: live.fraction, label: '', etaSeconds: live.etaSeconds })}`
      : s.state === 'running' && running
        ? `value ${running.index + 1}/${n} (${running.label})${running.progress ? ` · ${progressText(running.progress)}` : ''}`
        : `${s.state} · ${s.done}/${n} values`;
  item.iconPath = STUDY_ICONS[s.state];
  item.contextValue = `aftStudy.${s.state}`;
  item.resourceUri = vscode.Uri.file(s.dir);
  item.command = { command: 'aft.showStudy', title: 'Show Study', arguments: [s.dir] };
  item.tooltip = [`${s.record.studyId}`, `${s.record.vary} over ${n} values (${s.record.kind})`, s.message ?? '']
    .filter(Boolean)
    .join('\n');
  return item;
}

function studyValueItem(s: StudyRow, index: number): vscode.TreeItem {
  const v = s.values[index];
  const item = new vscode.TreeItem(`${s.record.vary} = ${v.label}`, vscode.TreeItemCollapsibleState.None);
  item.id = `study:${s.dir}#${index}`;
  item.description = v.summary
    ? Object.entries(v.summary.methods)
        .map(([m, r]) => `${m} ${(r.test_accuracy.mean * 100).toFixed(1)}%`)
        .join(' · ')
    : (v.state ?? 'not run yet');
  item.iconPath = v.state ? ICONS[v.state] : new vscode.ThemeIcon('circle-outline');
  item.tooltip = [v.runId ?? '', v.message ?? ''].filter(Boolean).join('\n');
  if (v.runDir) item.command = { command: 'aft.showStudyRun', title: 'Show Dashboard', arguments: [v.runDir] };
  return item;
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunNode> {
  private readonly changed = new vscode.EventEmitter<RunNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: RunsModel) {
    model.onDidChange(() => this.changed.fire(undefined));
  }

  getChildren(node?: RunNode): RunNode[] {
    if (!node)
      return [
        ...this.model.studies.map((s): RunNode => studyNode(s)),
        ...this.model.runs.map((r): RunNode => ({ kind: 'run', runId: r.runId })),
      ];
    if (node.kind === 'study')
      return (this.model.study(node.dir)?.values ?? []).map((v) => ({
        kind: 'studyValue',
        dir: node.dir,
        index: v.index,
      }));
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
    if (node.kind === 'run' || node.kind === 'study') return undefined;
    if (node.kind === 'studyValue') {
      const s = this.model.study(node.dir);
      return s ? studyNode(s) : undefined;
    }
    return { kind: 'run', runId: node.runId };
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    if (node.kind === 'study' || node.kind === 'studyValue') {
      const study = this.model.study(node.dir);
      if (!study) return new vscode.TreeItem(path.basename(node.dir));
      return node.kind === 'study' ? studyItem(study) : studyValueItem(study, node.index);
    }
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
