// Bundles the experiment-file language server into one CommonJS file that the extension's
// language client starts over IPC (extension/src/language/client.ts). It pulls in the zod
// schema, the validator and the student folder checks from core/node, never the engine,
// TensorFlow.js, onnxruntime or sharp (lib/languageServerBundle.mjs: the build fails on them).
import { build } from 'esbuild';
import { forbiddenInputs, languageServerBuild } from './lib/languageServerBundle.mjs';

await build(languageServerBuild).then(({ metafile }) => {
  const heavy = forbiddenInputs(metafile);
  if (heavy.length)
    throw new Error(
      `the language server bundle must not include the engine or its native modules: ${heavy.join(', ')}`,
    );
});
