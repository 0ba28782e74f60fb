/** The status bar item: sidecar state, backend, and the running run's progress; click opens the run. */
import * as vscode from 'vscode';
import { percentText, progressText } from '../runs/format';
import type { RunsModel } from '../runs/model';
import type { SidecarClient } from '../sidecar/client';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('aft.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subs: { dispose(): void }[];

  constructor(
    private readonly client: SidecarClient,
    private readonly runs: RunsModel,
    private readonly backendSetting: () => string,
    private readonly trusted: () => boolean,
  ) {
    this.item.name = 'AFT Studio';
    this.subs = [client.onState(() => this.update()), runs.onDidChange(() => this.update())];
    this.update();
    this.item.show();
  }

  update(): void {
    const running = this.runs.running;
    const c = this.client;
    const backend = this.backendSetting() === 'auto' ? (c.info?.defaultBackend ?? 'auto') : this.backendSetting();
    if (running.length) {
      const r = running[0];
      const p = r.live ?? r.progress;
      this.item.text = `$(sync~spin) AFT ${p ? percentText(p.fraction) : ''} ${r.experiment}${running.length > 1 ? ` (+${running.length - 1})` : ''}`;
      this.item.tooltip = `${r.runId}\n${p ? progressText(p) : 'starting'}\nbackend ${backend} · click to show the run`;
      this.item.command = { command: 'aft.showDashboard', title: 'Show Dashboard', arguments: [r.runId] };
      this.item.backgroundColor = undefined;
      return;
    }
    this.item.command =
      c.state === 'failed' ? 'aft.showSidecarLog' : { command: 'workbench.view.extension.aft', title: 'Show AFT' };
    if (!this.trusted()) {
      this.item.text = '$(shield) AFT: restricted';
      this.item.tooltip = 'AFT Studio runs nothing in an untrusted workspace';
    } else if (c.state === 'failed') {
      this.item.text = '$(error) AFT: sidecar failed';
      this.item.tooltip = `${c.failure?.message ?? 'the sidecar failed'}\nclick to show the log`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    } else if (c.state === 'ready') {
      this.item.text = `$(beaker) AFT: ${backend}`;
      this.item.tooltip = `AFT sidecar ready (pid ${c.pid ?? '?'}), backend ${backend}`;
    } else {
      this.item.text = `$(loading~spin) AFT: ${c.state === 'stopped' ? 'sidecar stopped' : `sidecar ${c.state}`}`;
      this.item.tooltip = `AFT sidecar ${c.state}`;
    }
    this.item.backgroundColor = undefined;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}
