// Runs inside desktop VS Code's extension host (see run.mjs): activation, commands, the sidecar,
// and a real run started with "AFT: Run Experiment" that completes in the run store.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

exports.run = async function run() {
  const ext = vscode.extensions.getExtension('aft-studio.aft-studio');
  assert.ok(ext, 'the extension is installed');
  assert.equal(ext.isActive, false, 'activation is lazy');
  const api = await ext.activate();
  const commands = await vscode.commands.getCommands(true);
  for (const id of [
    'aft.newExperiment',
    'aft.runExperiment',
    'aft.runMethod',
    'aft.stopRun',
    'aft.extractFeatures',
    'aft.showDashboard',
    'aft.compareRuns',
    'aft.exportModel',
    'aft.selectBackend',
    'aft.showSidecarLog',
    'aft.restartSidecar',
    'aft.installGpuRuntime',
  ]) {
    assert.ok(commands.includes(id), `${id} is registered`);
  }
  await waitFor('the sidecar', () => api.sidecarState() === 'ready', 60_000);
  const folder = vscode.workspace.workspaceFolders[0].uri.fsPath;
  const file = vscode.Uri.file(path.join(folder, 'tiny.aft.yaml'));
  const runId = await vscode.commands.executeCommand('aft.runExperiment', file);
  assert.ok(runId, 'the run started');
  const summary = path.join(folder, '.aft', 'runs', runId, 'summary.json');
  await waitFor('the run to complete', () => fs.existsSync(summary), 5 * 60_000);
  const pid = api.sidecarPid();
  process.kill(pid, 'SIGKILL');
  await waitFor('a restarted sidecar', () => api.sidecarState() === 'ready' && api.sidecarPid() !== pid, 60_000);
};
