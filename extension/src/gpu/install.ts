/**
 * Installs the GPU runtime (`@tensorflow/tfjs-node-gpu`, which downloads libtensorflow with
 * CUDA, and `onnxruntime-node`, which downloads its CUDA execution provider) into a folder of
 * the extension's global storage, with npm in a child process. It installs into a staging
 * folder and moves it into place only when everything worked, so a failure changes nothing.
 * Without network it fails within seconds, before npm runs. Free of `vscode` (tested in Node).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const GPU_PACKAGES = ['@tensorflow/tfjs-node-gpu@4.22.0', 'onnxruntime-node@1.30.0'];

/** The hosts the installers download from (npm itself, libtensorflow, the CUDA provider). */
export const GPU_HOSTS = ['https://registry.npmjs.org/', 'https://storage.googleapis.com/', 'https://api.nuget.org/v3/index.json'];

export interface InstallOptions {
  storageDir: string;
  npm?: string;
  hosts?: string[];
  probeTimeoutMs?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

export class GpuInstallError extends Error {}

/** The folder the sidecar loads the GPU runtime from, when it is installed. */
export function gpuRuntimeDir(storageDir: string): string {
  return path.join(storageDir, 'gpu-runtime');
}

export function isGpuRuntimeInstalled(storageDir: string): boolean {
  return fs.existsSync(path.join(gpuRuntimeDir(storageDir), 'node_modules', '@tensorflow', 'tfjs-node-gpu', 'package.json'));
}

/** Resolves when `url` answers at all (any HTTP status), rejects with the reason otherwise. */
async function reach(url: string, timeoutMs: number): Promise<void> {
  // Loaded on use: node:https costs ~50 ms to load, which activation must not pay.
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

export async function installGpuRuntime(opts: InstallOptions): Promise<string> {
  const progress = opts.onProgress ?? (() => {});
  if (!(['linux', 'win32'].includes(process.platform) && process.arch === 'x64')) {
    throw new GpuInstallError(`the GPU runtime (TensorFlow with CUDA) exists for Linux and Windows on x64 only, not ${process.platform}-${process.arch}; nothing was changed`);
  }
  progress('checking the network');
  const hosts = opts.hosts ?? GPU_HOSTS;
  const timeout = opts.probeTimeoutMs ?? 5000;
  const failures = (await Promise.all(hosts.map((h) => reach(h, timeout).then(() => undefined, (e: Error) => `${new URL(h).host} (${e.message})`)))).filter(Boolean);
  if (failures.length) {
    throw new GpuInstallError(`cannot download the GPU runtime: ${failures.join(', ')} cannot be reached. The GPU runtime needs network access to npm, to Google storage (libtensorflow with CUDA) and to NuGet (onnxruntime's CUDA provider). Nothing was changed.`);
  }
  const target = gpuRuntimeDir(opts.storageDir);
  const staging = `${target}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  fs.writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ name: 'aft-gpu-runtime', private: true }, null, 2));
  try {
    progress(`installing ${GPU_PACKAGES.join(', ')}`);
    await npmInstall(opts.npm ?? (process.platform === 'win32' ? 'npm.cmd' : 'npm'), staging, progress, opts.signal);
    // The sidecar's own TensorFlow.js must be the one tfjs-node-gpu registers with: drop the
    // copies npm installed next to it, so that it resolves @tensorflow/tfjs through NODE_PATH.
    const tf = path.join(staging, 'node_modules', '@tensorflow');
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

function npmInstall(npm: string, cwd: string, progress: (m: string) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(npm, ['install', '--no-audit', '--no-fund', '--omit=dev', '--foreground-scripts', ...GPU_PACKAGES], { cwd, env: process.env, shell: process.platform === 'win32', ...(signal ? { signal } : {}) });
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
    child.on('error', (e) => reject(new GpuInstallError(`could not run npm (${e.message}); install Node.js with npm, or run \`npm install ${GPU_PACKAGES.join(' ')}\` yourself. Nothing was changed.`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new GpuInstallError(`npm install failed (exit code ${code}); nothing was changed. Last lines:\n${tail.slice(-8).join('\n')}`))));
  });
}
