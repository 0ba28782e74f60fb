/**
 * The language server's bundle holds the student folder checks but none of the engine: no
 * sidecar source, TensorFlow.js, onnxruntime or sharp (the rule the build enforces,
 * scripts/lib/languageServerBundle.mjs), checked on the bundle esbuild makes from the sources.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { build } from 'esbuild';
import { forbiddenInputs, languageServerBuild } from '../../scripts/lib/languageServerBundle.mjs';

const ROOT = path.join(__dirname, '..', '..');

describe('the language server bundle', () => {
  it('holds the student folder checks and nothing of the engine', async () => {
    const { metafile } = await build({ ...languageServerBuild, absWorkingDir: ROOT, write: false, logLevel: 'silent' });
    const inputs = Object.keys(metafile.inputs);
    for (const f of ['core/node/students/hubFolder.ts', 'core/node/students/experimentStudent.ts'])
      assert.ok(inputs.includes(f), `${f} is bundled`);
    assert.deepEqual(forbiddenInputs(metafile), []);
  });

  it('the rule names what the engine would bring in', () => {
    const inputs = [
      'core/node/students/hubFolder.ts',
      'node_modules/@tensorflow/tfjs-core/dist/index.js',
      'node_modules/onnxruntime-node/dist/index.js',
      'node_modules/sharp/lib/index.js',
      'sidecar/src/models/pretrained.ts',
    ];
    const metafile = { inputs: Object.fromEntries(inputs.map((f) => [f, { bytes: 0, imports: [] }])), outputs: {} };
    assert.deepEqual(forbiddenInputs(metafile), inputs.slice(1));
  });
});
