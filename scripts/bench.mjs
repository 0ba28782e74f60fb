#!/usr/bin/env node
// `npm run bench`: every benchmark of the product, one after another, the training-step
// benchmark last so that with `-- --json` the last printed line is its JSON object
// ({backend, mlp: {stl_ms, aft_ms, ratio}, cnn: {...}}). Run one alone with its own script
// (bench:activation, bench:lsp, bench:extract, bench:webviews, bench:runs, bench:train).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const steps = [
  ['build', ['node', 'scripts/build.mjs']],
  ['activation', ['node', 'scripts/bench-activation.mjs']],
  ['language server', ['node', '--expose-gc', '--import', 'tsx', 'language-server/bench/diagnostics.ts']],
  ['feature extraction', ['node', 'dist/sidecar/bench-extract.js']],
  ['webviews', ['node', '--import', 'tsx', 'webviews/bench/bench.ts']],
  ['1,000 runs: listing and experiments table', ['node', '--import', 'tsx', 'webviews/bench/runs.ts']],
  ['training step', ['node', 'dist/sidecar/bench.js', ...args]],
];
// A benchmark that cannot run measures nothing: every part runs, then a summary names each one
// that failed and the command exits 1, so a broken benchmark cannot pass unnoticed.
const failed = [];
for (const [name, [cmd, ...rest]] of steps) {
  console.log(`\n== ${name} ==`);
  const r = spawnSync(cmd, rest, { stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${name} (${r.signal ? `killed by ${r.signal}` : `exit ${r.status}`})`);
}
if (failed.length) {
  console.error(
    `\nnpm run bench FAILED: ${failed.length} of ${steps.length} benchmarks did not run to the end: ${failed.join(', ')}`,
  );
  process.exit(1);
}
console.error(`\nnpm run bench: all ${steps.length} benchmarks ran`);
