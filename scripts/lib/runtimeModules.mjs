// Copies what the sidecar bundle requires at run time from node_modules: the dependency closure
// of some packages, minus type packages, sources, maps and the browser/ESM builds the Node bundle
// never loads, and native binaries of other platforms. Used by `npm run package` (the .vsix) and
// scripts/gpu-check/pack.mjs (the folder a GPU machine runs the check from).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Dependencies of @tensorflow/tfjs that only its command-line converter uses, and webgpu's type declarations. */
export const NOT_AT_RUNTIME = new Set([
  'yargs',
  'chalk',
  'core-js',
  'regenerator-runtime',
  'argparse',
  '@webgpu/types',
]);

/**
 * Copies `required` (which must be installed) and `optional` (when installed) with their
 * dependencies from `root`/node_modules into `dest`. `platform`/`arch`: whose native binaries
 * to keep. `skip(name, rel)`: further files to leave out. Returns the package names copied.
 */
export function copyRuntimeModules({
  root,
  dest,
  required,
  optional = [],
  platform = process.platform,
  arch = process.arch,
  skip = () => false,
}) {
  const dawnDir = `dist/${platform === 'darwin' ? 'darwin-universal' : `${platform}-${arch}`}`;
  const seen = new Set();
  const queue = [
    ...required,
    ...optional.filter((p) => fs.existsSync(path.join(root, 'node_modules', p, 'package.json'))),
  ];
  while (queue.length) {
    const name = queue.shift();
    if (seen.has(name) || name.startsWith('@types/') || NOT_AT_RUNTIME.has(name)) continue;
    const dir = path.join(root, 'node_modules', name);
    if (!fs.existsSync(path.join(dir, 'package.json'))) {
      if (required.includes(name)) throw new Error(`${name} is not installed (npm ci first)`);
      continue;
    }
    seen.add(name);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    queue.push(...Object.keys(meta.dependencies ?? {}), ...Object.keys(meta.optionalDependencies ?? {}));
    // Pure-JS TensorFlow.js packages ship many builds; the sidecar loads the Node one (main).
    const jsTf = name.startsWith('@tensorflow/tfjs') && !/tfjs-node/.test(name);
    const main = meta.main ? path.normalize(meta.main) : undefined;
    fs.cpSync(dir, path.join(dest, name), {
      recursive: true,
      filter: (f) => {
        const rel = path.relative(dir, f);
        if (rel === '') return true;
        if (skip(name, rel)) return false;
        if (/\.(map|ts|md|markdown)$/.test(rel) && !/^license/i.test(rel)) return false;
        // Native binaries: only this platform's.
        const bin = /^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(rel);
        if (bin && (bin[1] !== platform || (bin[2] !== undefined && bin[2] !== arch))) return false;
        // Dawn: only this platform's binary; build/ holds its install and release scripts.
        if (name === 'webgpu' && (/^build(\/|$)/.test(rel) || (/^dist\/[^/]+/.test(rel) && !rel.startsWith(dawnDir))))
          return false;
        if (!jsTf) return true;
        if (fs.statSync(f).isDirectory()) return rel === 'dist';
        return (
          rel === 'package.json' ||
          /^license/i.test(rel) ||
          rel === main ||
          rel.endsWith('.wasm') ||
          /^dist\/[^/]+\.node\.js$/.test(rel)
        );
      },
    });
  }
  return [...seen];
}
