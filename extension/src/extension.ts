/** Entry point: wires the extension up (see studio.ts) and measures how long that takes. */
import type * as vscode from 'vscode';
import { registerDashboardSerializers, setDashboardLogger } from './dashboard';
import { Studio, type AftApi } from './studio';

let studio: Studio | undefined;

export function activate(context: vscode.ExtensionContext): AftApi {
  const t0 = performance.now();
  studio = new Studio(context);
  context.subscriptions.push(studio);
  // Dashboards reopen after a window reload through their serializers.
  setDashboardLogger(studio.log);
  registerDashboardSerializers(context);
  const ms = performance.now() - t0;
  studio.log.info(`AFT Studio activated in ${ms.toFixed(1)} ms`);
  // The sidecar and the language server start after activation returns: their spawns are not
  // activation time.
  const s = studio;
  setTimeout(() => {
    s.startSidecar();
    s.startLanguageServer();
  }, 0);
  return s.api();
}

export async function deactivate(): Promise<void> {
  await studio?.shutdown();
  studio = undefined;
}
