#!/usr/bin/env node
// The test command: typecheck, lint, then every test/**/*.test.ts with node's test runner.
// `node scripts/test.mjs unit` runs only the tests (no typecheck/lint); a folder name filters.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv[2];

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

if (!filter) {
  run('npx', ['tsc', '-p', '.']);
  run('npx', ['eslint', '.']);
}
// Integration and end-to-end tests drive the built sidecar and extension.
run('npm', ['run', 'build', '--silent']);
const files = find(join(root, 'test')).filter((f) => !filter || filter === 'unit' || f.includes(filter)).sort();
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]);
