// Bundles the sidecar (CLI, JSON-RPC server, benchmark) and the VS Code extension with esbuild.
// Sidecar: TensorFlow.js packages stay external: the native backends (tfjs-node, tfjs-node-gpu)
// register themselves on the one tfjs instance they require, and the wasm backend loads its
// .wasm files from its own folder. Extension: one CJS file with only `vscode` external; it must
// never pull in the engine (tested by the activation benchmark, which fails on tfjs in it).
import { build } from 'esbuild';

// tsx: only the unbundled sources (tests) start the ONNX worker through it.
const external = ['@tensorflow/*', 'onnxruntime-node', 'sharp', 'mnist', 'tsx'];
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
};

await Promise.all([
  build({
    ...common,
    entryPoints: {
      cli: 'sidecar/src/cli/index.ts',
      server: 'sidecar/src/server/index.ts',
      bench: 'sidecar/src/bench/index.ts',
      'bench-extract': 'sidecar/src/bench/extract.ts',
      'run-process': 'sidecar/src/server/runProcess.ts',
      'onnx-worker': 'sidecar/src/runtime/onnxWorker.ts',
      'tokenizer-worker': 'sidecar/src/data/tokenizerWorker.ts',
    },
    outdir: 'dist/sidecar',
  }),
  // The GPU check (scripts/gpu-check): the engine and the CLI in one file that a GPU machine runs
  // from a carried folder without sharp (it decodes no images; a stand-in says so if asked to).
  build({
    ...common,
    entryPoints: { 'gpu-check': 'sidecar/src/bench/gpuCheck.ts' },
    outdir: 'dist/sidecar',
    external: external.filter((e) => e !== 'sharp'),
    alias: { sharp: './sidecar/src/bench/noSharp.ts' },
  }),
  build({
    ...common,
    external: ['vscode'],
    entryPoints: { extension: 'extension/src/extension.ts' },
    outdir: 'dist/extension',
    minify: true,
    metafile: false,
  }),
]);

// The language server and the webviews have their own build files (their own targets and
// checks); `npm run build` builds everything.
await import('./build-language-server.mjs');
await import('./build-webviews.mjs');
