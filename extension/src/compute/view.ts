/**
 * The Compute view: the sidecar's state and process, the backend in use and the ones that can
 * load (with the reason for those that cannot; for webgpu, the adapter and its limits), the devices (GPU name and memory when there is
 * one) and versions, all as the sidecar reported them in `initialize`.
 */
import * as vscode from 'vscode';
import type { GpuAdapterInfo } from '../../../core/common/protocol/rpc';
import type { SidecarClient } from '../sidecar/client';

interface Row {
  label: string;
  description?: string;
  tooltip?: string;
  icon?: string;
  children?: Row[];
}

function mib(n: number | undefined): string {
  return n === undefined ? '' : n >= 1024 ? `${(n / 1024).toFixed(1)} GiB` : `${n} MiB`;
}

function bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;
}

export function adapterName(a: GpuAdapterInfo): string {
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unnamed adapter';
}

/** The webgpu row's tooltip: what the adapter is, its limits, and why auto passes over it. */
export function adapterTooltip(description: string, a: GpuAdapterInfo, notAuto?: string): string {
  return [
    description,
    `adapter: ${adapterName(a)}`,
    `vendor ${a.vendor || '?'} · architecture ${a.architecture || '?'} · device ${a.device || '?'}`,
    `max buffer ${bytes(a.limits.maxBufferSize)} · max storage binding ${bytes(a.limits.maxStorageBufferBindingSize)} · workgroup storage ${a.limits.maxComputeWorkgroupStorageSize} B`,
    ...(notAuto ? [`auto passes over it: ${notAuto}`] : []),
  ].join('\n');
}

export class ComputeTreeProvider implements vscode.TreeDataProvider<Row>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subs: { dispose(): void }[];

  constructor(
    private readonly client: SidecarClient,
    private readonly backendSetting: () => string,
    private readonly trusted: () => boolean,
  ) {
    this.subs = [client.onState(() => this.refresh())];
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  private rows(): Row[] {
    const c = this.client;
    const info = c.info;
    const sidecar: Row = {
      label: 'Sidecar',
      description: !this.trusted()
        ? 'not started (untrusted workspace)'
        : `${c.state}${c.state === 'ready' && c.pid ? ` · pid ${c.pid}` : ''}`,
      icon: c.state === 'ready' ? 'vm-running' : c.state === 'failed' ? 'error' : 'vm-outline',
      ...(c.failure ? { tooltip: [c.failure.message, ...c.failure.stderrTail.slice(-5)].join('\n') } : {}),
    };
    if (!info) return [sidecar];
    const choice = this.backendSetting();
    const rows: Row[] = [
      sidecar,
      {
        label: 'Backend',
        description: choice === 'auto' ? `auto → ${info.defaultBackend ?? 'none'}` : choice,
        icon: 'chip',
        children: info.backends.map((b) => ({
          label: b.id,
          description: !b.available
            ? `unavailable: ${b.reason ?? ''}`
            : b.adapter
              ? `${adapterName(b.adapter)} · ${b.adapter.software ? 'software, only when chosen' : 'GPU'}`
              : b.description,
          icon: b.available ? 'check' : 'close',
          tooltip: b.adapter ? adapterTooltip(b.description, b.adapter, b.notAuto) : (b.reason ?? b.description),
        })),
      },
      ...info.devices.map((d) => ({
        label: d.kind === 'gpu' ? 'GPU' : 'CPU',
        description: [d.name, d.cores ? `${d.cores} cores` : '', mib(d.memoryMiB)].filter(Boolean).join(' · '),
        icon: d.kind === 'gpu' ? 'circuit-board' : 'server',
      })),
      {
        label: 'Versions',
        description: `sidecar ${info.sidecarVersion} · node ${info.node}`,
        icon: 'versions',
        children: Object.entries(info.versions).map(([k, v]) => ({ label: k, description: v })),
      },
    ];
    if (!info.devices.some((d) => d.kind === 'gpu'))
      rows.splice(2, 0, { label: 'GPU', description: 'none found', icon: 'circuit-board' });
    return rows;
  }

  getChildren(row?: Row): Row[] {
    return row ? (row.children ?? []) : this.rows();
  }

  getTreeItem(row: Row): vscode.TreeItem {
    const item = new vscode.TreeItem(
      row.label,
      row.children?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    if (row.description) item.description = row.description;
    if (row.tooltip) item.tooltip = row.tooltip;
    if (row.icon) item.iconPath = new vscode.ThemeIcon(row.icon);
    return item;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
