// How the language server is bundled, and what its bundle must never hold: the build
// (scripts/build-language-server.mjs) fails on it and test/lsp/bundle.test.ts checks it. The
// server checks student folders from their headers with core/node/students alone: the engine's
// sources (sidecar/), TensorFlow.js, onnxruntime and sharp stay out.

export const languageServerBuild = {
  entryPoints: { server: 'language-server/src/server.ts' },
  outdir: 'dist/language-server',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  metafile: true,
};

const FORBIDDEN = /@tensorflow|onnxruntime|(^|\/)sharp\/|(^|\/)sidecar\//;

/** The inputs of an esbuild metafile that must not be in the language server's bundle. */
export function forbiddenInputs(metafile) {
  return Object.keys(metafile.inputs).filter((f) => FORBIDDEN.test(f));
}
