/**
 * End to end in real VS Code (code-server + Chromium): installs the packaged .vsix, opens a
 * workspace with the demo experiment (shortened), runs "AFT: Run Experiment" from the command
 * palette and waits for the Runs view to show it completed with accuracies; stops a second run
 * midway with "AFT: Stop Run"; kills the sidecar process during a third run and sees the run
 * marked failed, the sidecar restarted, and a new run complete; exports the demo's AFT model with
 * "AFT: Export Model to ONNX" (run, method/seed, default path). Screenshots go to
 * test-results/e2e/. Needs `bash scripts/setup-e2e.sh` (and its Debian packages) first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { MNIST_DEMO } from '../../core/node/experiment/templates';
import { readRunStatus } from '../../core/node/runs/store';
import {
  type CodeServer,
  diagnosedIt,
  E2E_SKIP,
  endStudio,
  findFiles,
  launchStudio,
  openFile,
  pidsMatching,
  PKG as pkg,
  runCommand,
  type StudioSession,
  until,
} from './harness';

/** The demo, shortened: 200 training digits, 60 steps, one seed, one β per method. */
function shortDemo(): string {
  const edits: [RegExp, string][] = [
    [/train: 500, test: 2000/, 'train: 200, test: 500'],
    [/^beta: .*$/m, 'beta: { kd: 1, aft: 10 }'],
    [/steps: 1000/, 'steps: 60'],
    [/eval_every: 100/, 'eval_every: 20'],
    [/^seeds: \[0, 1, 2\]$/m, 'seeds: [0]'],
  ];
  let text = MNIST_DEMO.text;
  for (const [re, by] of edits) {
    assert.match(text, re, `the demo template changed; update shortDemo() (${String(re)})`);
    text = text.replace(re, by);
  }
  return text;
}

const LONG_RUN = `# Long enough to be stopped midway.
name: long-run
dataset: { source: mnist, train: 200, test: 200, split_seed: 0 }
pretrained:
  - { name: noise, noise: 16 }
downstream: { model: mlp, hidden: [32] }
methods: [stl]
train: { steps: 100000, batch: 32, eval_every: 1000 }
seeds: [0]
`;

describe('VS Code extension, end to end in code-server', { skip: E2E_SKIP, timeout: 20 * 60_000 }, () => {
  let studio: StudioSession | undefined;
  const test = diagnosedIt(() => studio);
  let server: CodeServer;
  let page: Page;
  let workspace: string;
  const t0 = Date.now();

  const shot = async (name: string): Promise<void> => void (await studio!.shot(name));
  const runsRows = (): Locator =>
    page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^\s*Runs/ }) }).locator('.monaco-list-row');
  const runRow = (experiment: string, state: string | RegExp): Locator =>
    runsRows().filter({ hasText: experiment }).filter({ hasText: state });

  before(async () => {
    studio = await launchStudio({ 'mnist-demo.aft.yaml': shortDemo(), 'long-run.aft.yaml': LONG_RUN });
    ({ server, page, workspace } = studio);
  });

  after(() => endStudio(studio, 'last', 'e2e', t0));

  test('runs the demo from the command palette and shows it completed with accuracies in the Runs view', async () => {
    await openFile(page, 'mnist-demo.aft.yaml');
    await runCommand(page, 'AFT: Run Experiment');
    await runCommand(page, 'View: Show AFT Studio');
    await runsRows().first().waitFor({ timeout: 60_000 });
    await runRow('mnist-demo', /\d+%|running|completed/)
      .first()
      .waitFor({ timeout: 60_000 });
    await shot('1-demo-running');
    // Building the built-in teacher on a fresh machine takes ~3 minutes; later runs reuse it.
    await runRow('mnist-demo', 'completed')
      .first()
      .waitFor({ timeout: 10 * 60_000 });
    for (const method of ['stl', 'kd', 'aft']) {
      await runsRows()
        .filter({ hasText: new RegExp(`^\\s*${method}\\s*\\d+\\.\\d\\d ± \\d+\\.\\d\\d %`) })
        .first()
        .waitFor({ timeout: 15_000 });
    }
    const text = (await runsRows().allInnerTexts()).join('\n');
    assert.match(text, /stl\s*\d+\.\d\d ± 0\.00 % \(1 seed\)/);
    await shot('2-demo-completed');
    const runs = fs.readdirSync(path.join(workspace, '.aft', 'runs'));
    assert.equal(runs.length, 1);
    const summary = JSON.parse(
      fs.readFileSync(path.join(workspace, '.aft', 'runs', runs[0], 'summary.json'), 'utf8'),
    ) as { methods: Record<string, { test_accuracy: { mean: number } }> };
    const shown = /stl\s*(\d+\.\d\d) ±/.exec(text)![1];
    assert.equal(
      shown,
      (summary.methods['stl'].test_accuracy.mean * 100).toFixed(2),
      'the view shows the number in summary.json',
    );
  });

  test('exports the completed demo run to ONNX from the command palette (run, method/seed, default path)', async () => {
    const t = Date.now();
    const input = page.locator('.quick-input-widget input');
    const row = (text: string | RegExp): Locator =>
      page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
    await runCommand(page, 'AFT: Export Model to ONNX');
    // The completed runs, then the run's methods and seeds (from its summary.json), then the save dialog.
    await row('mnist-demo').waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await row(/aft · seed 0/).waitFor({ timeout: 10_000 });
    await input.fill('aft · seed 0');
    await page.keyboard.press('Enter');
    await until('the save dialog offers <run>/aft-seed-0.onnx', async () =>
      (await input.inputValue()).endsWith('aft-seed-0.onnx'),
    );
    await page.keyboard.press('Enter');
    const run = fs.readdirSync(path.join(workspace, '.aft', 'runs')).find((d) => d.startsWith('mnist-demo'))!;
    const file = path.join(workspace, '.aft', 'runs', run, 'aft-seed-0.onnx');
    const toast = page.locator('.notification-toast', {
      hasText: /exported aft seed 0 to .*aft-seed-0\.onnx: [\d,]+ parameters, .*\/example in onnxruntime/,
    });
    await toast.first().waitFor({ timeout: 60_000 });
    await shot('2b-demo-exported');
    assert.ok(fs.statSync(file).size > 0, `${file} was written`);
    assert.match(await toast.first().innerText(), /max \|logit difference\| to the trained model \d\.\de-\d+/);
    await toast.first().locator('.monaco-button', { hasText: 'Reveal' }).waitFor({ timeout: 5000 });
    await page.keyboard.press('Escape');
    console.log(`export from the command palette: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  });

  test('extracts the demo features from the command palette: the cache entry the run wrote is reused', async () => {
    await runCommand(page, 'AFT: Extract Features'); // mnist-demo.aft.yaml is the active editor
    const toast = page.locator('.notification-toast', { hasText: 'mnist-demo.aft.yaml: teacher: already cached' });
    const logged = (): boolean =>
      findFiles(server.userDataDir, /AFT Studio\.log$/).some((f) =>
        /mnist-demo\.aft\.yaml: teacher reused in .*\.aft\/cache\/features\//.test(fs.readFileSync(f, 'utf8')),
      );
    // The summary toast, or (should it have been hidden already) its line in the extension's log.
    await until('the extraction summary', async () => (await toast.count()) > 0 || logged(), 60_000);
    await page.keyboard.press('Escape');
  });

  test('stops a second run midway: the Runs view says cancelled, and so does the store', async () => {
    await openFile(page, 'long-run.aft.yaml');
    await runCommand(page, 'AFT: Run Experiment');
    await runCommand(page, 'View: Show AFT Studio');
    await runRow('long-run', /\d+%/).first().waitFor({ timeout: 120_000 });
    await shot('3-long-run-running');
    await runCommand(page, 'AFT: Stop Run');
    await runRow('long-run', 'cancelled').first().waitFor({ timeout: 30_000 });
    await shot('4-long-run-cancelled');
    const dir = fs.readdirSync(path.join(workspace, '.aft', 'runs')).find((d) => d.startsWith('long-run'))!;
    const status = JSON.parse(fs.readFileSync(path.join(workspace, '.aft', 'runs', dir, 'status.json'), 'utf8')) as {
      state: string;
    };
    assert.equal(status.state, 'cancelled');
  });

  test('survives a killed sidecar: the in-flight run is marked failed, the sidecar restarts, runs work again', async () => {
    const needle = path.join(server.extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
    const before = pidsMatching(needle).filter((p) => pidsMatching('dist/sidecar/server.js').includes(p));
    assert.equal(before.length, 1, `one sidecar process (${before.join(', ')})`);
    await runCommand(page, 'AFT: Run Experiment'); // long-run.aft.yaml is the active editor
    await runCommand(page, 'View: Show AFT Studio');
    await runRow('long-run', /\d+%/).first().waitFor({ timeout: 120_000 });
    process.kill(before[0], 'SIGKILL');
    await runRow('long-run', 'failed').first().waitFor({ timeout: 30_000 });
    await page
      .locator('.statusbar-item', { hasText: /AFT: (wasm|cpu|native|gpu)/ })
      .first()
      .waitFor({ timeout: 60_000 });
    await shot('5-after-sidecar-killed');
    const after = pidsMatching(needle).filter((p) => pidsMatching('dist/sidecar/server.js').includes(p));
    assert.equal(after.length, 1);
    assert.notEqual(after[0], before[0], 'a new sidecar process');
    const failedDir = fs
      .readdirSync(path.join(workspace, '.aft', 'runs'))
      .filter((d) => d.startsWith('long-run'))
      .map(
        (d) =>
          JSON.parse(fs.readFileSync(path.join(workspace, '.aft', 'runs', d, 'status.json'), 'utf8')) as {
            state: string;
            message?: string;
          },
      )
      .find((s) => s.state === 'failed');
    assert.ok(failedDir, 'the killed run is failed in the store, not left running');
    // Written by the run's own process, which saw its sidecar go.
    assert.match(failedDir.message ?? '', /the sidecar that ran it \(pid \d+\) ended without stopping it/);

    await openFile(page, 'mnist-demo.aft.yaml');
    await runCommand(page, 'AFT: Run Experiment');
    await runRow('mnist-demo', 'completed')
      .nth(1)
      .waitFor({ timeout: 5 * 60_000 });
    await shot('6-demo-again-after-recovery');
  });

  test('activated lazily and quickly in the real extension host (its own log says how long)', () => {
    const logs = findFiles(server.userDataDir, /AFT Studio\.log$/);
    assert.ok(logs.length, 'the AFT Studio log channel wrote its file');
    const text = logs.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    const m = /activated in (\d+(?:\.\d+)?) ms/.exec(text);
    assert.ok(m, 'activation time logged');
    console.log(`activation in code-server's extension host: ${m[1]} ms`);
    assert.ok(Number(m[1]) < 100, `activation took ${m[1]} ms`);
  });

  // Last: after a reload, code-server may keep the old window's extension host (and so its
  // sidecar) for a while, which the sidecar count of the test above would see.
  test('a run survives a window reload; the reloaded window shows it training and stops it', async () => {
    await openFile(page, 'long-run.aft.yaml');
    await runCommand(page, 'AFT: Run Experiment');
    await runCommand(page, 'View: Show AFT Studio');
    await runRow('long-run', /\d+%/).first().waitFor({ timeout: 120_000 });
    const runs = path.join(workspace, '.aft', 'runs');
    const live = fs
      .readdirSync(runs)
      .filter((d) => d.startsWith('long-run'))
      .find((d) => readRunStatus(path.join(runs, d)).state === 'running');
    assert.ok(live, 'the run is running in the store');
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await runCommand(page, 'View: Show AFT Studio');
    // The new window's Runs view: the run's progress, read from its status.json.
    await runRow('long-run', /\d+%/).first().waitFor({ timeout: 120_000 });
    const fraction = (): number => readRunStatus(path.join(runs, live)).progress?.fraction ?? 0;
    const at = fraction();
    await until('the run trains on after the reload', () => Promise.resolve(fraction() > at), 60_000);
    await shot('7-run-after-reload');
    await runCommand(page, 'AFT: Stop Run');
    // The run stopped earlier in this file is the other cancelled row.
    await until(
      'the run cancelled in the Runs view',
      async () => (await runRow('long-run', 'cancelled').count()) >= 2,
      60_000,
    );
    assert.equal(readRunStatus(path.join(runs, live)).state, 'cancelled');
    await shot('8-stopped-after-reload');
  });
});
