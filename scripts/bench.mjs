#!/usr/bin/env node
// `npm run bench`: every benchmark of the product, one after another, the training-step
// benchmark last so that with `-- --json` the last printed line is its JSON object
// ({backend, mlp: {stl_ms, aft_ms, ratio}, cnn: {...}}). Run one alone with its own script
// (bench:activation, bench:lsp, bench:extract, bench:webviews, bench:train).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const steps = [
  ['build', ['node', 'scripts/build.mjs']],
  ['activation', ['node', 'scripts/bench-activation.mjs']],
  ['language server', ['node', '--expose-gc', '--import', 'tsx', 'language-server/bench/diagnostics.ts']],
  ['feature extraction', ['node', 'dist/sidecar/bench-extract.js']],
  ['webviews', ['node', '--import', 'tsx', 'webviews/bench/bench.ts']],
  ['training step', ['node', 'dist/sidecar/bench.js', ...args]],
];
let failed = 0;
for (const [name, [cmd, ...rest]] of steps) {
  console.log(`\n== ${name} ==`);
  const r = spawnSync(cmd, rest, { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`benchmark '${name}' failed (exit ${r.status})`);
  }
}
if (failed) process.exitCode = 1;
