// Bundles the experiment-file language server into one CommonJS file that the extension's
// language client starts over IPC (extension/src/language/client.ts). It pulls in the zod
// schema and the validator from sidecar/src/experiment, never TensorFlow.js or onnxruntime.
import { build } from 'esbuild';

await build({
  entryPoints: { server: 'language-server/src/server.ts' },
  outdir: 'dist/language-server',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
}).then(({ metafile }) => {
  const heavy = Object.keys(metafile.inputs).filter((f) => /@tensorflow|onnxruntime/.test(f));
  if (heavy.length) throw new Error(`the language server bundle must not include compute engines: ${heavy.join(', ')}`);
});
