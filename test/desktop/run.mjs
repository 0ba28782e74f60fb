#!/usr/bin/env node
// Integration suite for desktop VS Code with @vscode/test-electron. It downloads a VS Code build,
// so it runs only where that is possible (not on the project's CI machines, which reach the npm
// registry only; there the code-server end-to-end test covers the same ground).
// Usage: npm run test:desktop   (set VSCODE_VERSION to pin a version; needs a display or xvfb-run)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-desktop-'));
fs.writeFileSync(
  path.join(workspace, 'tiny.aft.yaml'),
  `name: tiny
dataset: { source: mnist, train: 100, test: 100 }
pretrained:
  - { name: noise, noise: 16 }
downstream: { model: mlp, hidden: [16] }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 10, batch: 32, eval_every: 5 }
seeds: [0]
`,
);
try {
  await runTests({
    ...(process.env.VSCODE_VERSION ? { version: process.env.VSCODE_VERSION } : {}),
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'test', 'desktop', 'suite.cjs'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
} catch (e) {
  console.error(`desktop integration tests failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
