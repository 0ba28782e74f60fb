#!/usr/bin/env node
// The test command: typecheck, lint (eslint, prettier --check), then every test/**/*.test.ts with
// node's test runner.
// `node scripts/test.mjs SUITE...` runs only the tests of those folders under test/ (unit, golden,
// lsp, grammar, integration, e2e, faults), without typecheck and lint.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const suites = process.argv.slice(2);

function run(cmd, args) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : find(p);
    return name.endsWith('.test.ts') ? [relative(root, p)] : [];
  });
}

if (!suites.length) {
  run('npx', ['tsc', '-b']);
  run('npx', ['eslint', '.']);
  run('npx', ['prettier', '--check', '.']);
}
// Integration and end-to-end tests drive the built sidecar and extension.
run('npm', ['run', 'build', '--silent']);
const all = find(join(root, 'test'));
const files = all.filter((f) => !suites.length || suites.some((s) => f.startsWith(`test/${s}/`))).sort();
if (!files.length) {
  console.error(`no tests in ${suites.map((s) => `test/${s}/`).join(', ')}`);
  process.exit(2);
}
// The end-to-end tests run real VS Code (code-server): install it into its cache folder first
// (a second or so once it is there; ~5 minutes the first time).
if (process.env.AFT_SKIP_E2E !== '1' && files.some((f) => f.startsWith('test/e2e/')))
  run('bash', ['scripts/setup-e2e.sh']);
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]);
