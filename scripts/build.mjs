// Bundles the sidecar (CLI, JSON-RPC server, benchmark) with esbuild. TensorFlow.js packages
// stay external: the native backends (tfjs-node, tfjs-node-gpu) register themselves on the one
// tfjs instance they require, and the wasm backend loads its .wasm files from its own folder.
import { build } from 'esbuild';

const external = ['@tensorflow/*', 'onnxruntime-node', 'mnist'];
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, external, logLevel: 'warning' };

await build({
  ...common,
  entryPoints: { cli: 'sidecar/src/cli/index.ts', server: 'sidecar/src/server/index.ts', bench: 'sidecar/src/bench/index.ts' },
  outdir: 'dist/sidecar',
});
