/**
 * Installs the GPU runtime (`@tensorflow/tfjs-node-gpu`, whose install script downloads
 * libtensorflow with CUDA, and `onnxruntime-node`, whose install script downloads its CUDA
 * execution provider from NuGet) into a folder, with npm in a child process. Shared by
 * `aft gpu install` and the extension's AFT: Install GPU Runtime (free of `vscode`).
 *
 * It installs into a staging folder and moves it into place only when everything worked and the
 * native files are really there, so a failure changes nothing. Without network it fails within
 * seconds, before npm runs. npm 11 runs a dependency's install script only when the project's
 * `allowScripts` names it, so the staging project names the two packages.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GPU_PACKAGES, onnxBindingDir, onnxCudaProviderFile, runtimeModules, tfjsNodeGpuFiles } from './runtime';

export { GPU_PACKAGES, gpuRuntimeDir, isGpuRuntimeInstalled } from './runtime';

/** The hosts the installers download from (npm itself, libtensorflow, the CUDA provider). */
export const GPU_HOSTS = [
  'https://registry.npmjs.org/',
  'https://storage.googleapis.com/',
  'https://api.nuget.org/v3/index.json',
];

export interface InstallOptions {
  /** The runtime folder to create or replace (`gpuRuntimeDir(storage)`, or `aft gpu install --dir`). */
  dir: string;
  npm?: string;
  hosts?: string[];
  probeTimeoutMs?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

export class GpuInstallError extends Error {}

/** Resolves when `url` answers at all (any HTTP status), rejects with the reason otherwise. */
async function reach(url: string, timeoutMs: number): Promise<void> {
  // Loaded on use: node:https costs ~50 ms to load, which the extension's activation must not pay.
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'HEAD', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve();
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
    req.end();
  });
}

/** The staging project: allowScripts lets npm 11 run the two install scripts that fetch the native files. */
export function stagingPackageJson(): string {
  const allowScripts = Object.fromEntries(GPU_PACKAGES.map((p) => [p, true]));
  return JSON.stringify({ name: 'aft-gpu-runtime', private: true, allowScripts }, null, 2) + '\n';
}

/** What the install scripts should have left in `modules`; each missing file, said. */
export function missingNativeFiles(modules: string): string[] {
  const missing: string[] = [];
  const tf = tfjsNodeGpuFiles(path.join(modules, '@tensorflow', 'tfjs-node-gpu'));
  if (!tf) missing.push('@tensorflow/tfjs-node-gpu is not in the installed folder');
  else {
    if (!tf.libtensorflow) missing.push('tfjs-node-gpu has no libtensorflow (its install script did not download it)');
    if (!tf.binding) missing.push('tfjs-node-gpu has no native binding (tfjs_binding.node)');
  }
  if (process.platform === 'linux') {
    const cuda = path.join(onnxBindingDir(path.join(modules, 'onnxruntime-node')), onnxCudaProviderFile());
    if (!fs.existsSync(cuda))
      missing.push(
        `onnxruntime-node has no CUDA provider (${onnxCudaProviderFile()}; its install script did not download it)`,
      );
  }
  return missing;
}

export async function installGpuRuntime(opts: InstallOptions): Promise<string> {
  const progress = opts.onProgress ?? (() => {});
  if (!(['linux', 'win32'].includes(process.platform) && process.arch === 'x64')) {
    throw new GpuInstallError(
      `the GPU runtime (TensorFlow with CUDA) exists for Linux and Windows on x64 only, not ${process.platform}-${process.arch}; nothing was changed`,
    );
  }
  progress('checking the network');
  const hosts = opts.hosts ?? GPU_HOSTS;
  const timeout = opts.probeTimeoutMs ?? 5000;
  const failures = (
    await Promise.all(
      hosts.map((h) =>
        reach(h, timeout).then(
          () => undefined,
          (e: Error) => `${new URL(h).host} (${e.message})`,
        ),
      ),
    )
  ).filter(Boolean);
  if (failures.length) {
    throw new GpuInstallError(
      `cannot download the GPU runtime: ${failures.join(', ')} cannot be reached. The GPU runtime needs network access to npm, to Google storage (libtensorflow with CUDA) and to NuGet (onnxruntime's CUDA provider). Nothing was changed.`,
    );
  }
  const target = path.resolve(opts.dir);
  const staging = `${target}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  fs.writeFileSync(path.join(staging, 'package.json'), stagingPackageJson());
  try {
    progress(`installing ${GPU_PACKAGES.join(', ')}`);
    await npmInstall(opts.npm ?? (process.platform === 'win32' ? 'npm.cmd' : 'npm'), staging, progress, opts.signal);
    const missing = missingNativeFiles(runtimeModules(staging));
    if (missing.length)
      throw new GpuInstallError(
        `npm installed the packages but not their native files: ${missing.join('; ')}. Nothing was changed.`,
      );
    // The sidecar's own TensorFlow.js must be the one tfjs-node-gpu registers with: drop the
    // copies npm installed next to it, so that it resolves @tensorflow/tfjs through NODE_PATH.
    const tf = path.join(runtimeModules(staging), '@tensorflow');
    for (const name of fs.existsSync(tf) ? fs.readdirSync(tf) : []) {
      if (name !== 'tfjs-node-gpu') fs.rmSync(path.join(tf, name), { recursive: true, force: true });
    }
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(staging, target);
    return target;
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** npm's environment: onnxruntime-node told to fetch its CUDA 12 provider (the only one it has, on Linux x64), whatever a user's npmrc says. */
function installEnv(): NodeJS.ProcessEnv {
  return process.platform === 'linux' ? { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' } : process.env;
}

function npmInstall(npm: string, cwd: string, progress: (m: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      npm,
      ['install', '--no-audit', '--no-fund', '--omit=dev', '--foreground-scripts', ...GPU_PACKAGES],
      { cwd, env: installEnv(), shell: process.platform === 'win32', ...(signal ? { signal } : {}) },
    );
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        progress(line.slice(0, 200));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) =>
      reject(
        new GpuInstallError(
          `could not run npm (${e.message}); install Node.js with npm, or run \`npm install ${GPU_PACKAGES.join(' ')}\` yourself. Nothing was changed.`,
        ),
      ),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new GpuInstallError(
              `npm install failed (exit code ${code}); nothing was changed. Last lines:\n${tail.slice(-8).join('\n')}`,
            ),
          ),
    );
  });
}
