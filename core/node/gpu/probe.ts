/**
 * Reads what check.ts judges from the real machine: `nvidia-smi`, `ldconfig -p`, the
 * LD_LIBRARY_PATH folders, and which tfjs-node-gpu and onnxruntime-node the sidecar would load
 * (from the GPU runtime folder first). The WebGPU adapter is the caller's to add: only the
 * sidecar starts Dawn.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GpuFacts } from './check';
import { onnxBindingDir, onnxCudaProviderFile, runtimeModules, tfjsNodeGpuFiles } from './runtime';

/** A command's standard output, or why there is none; the first of `candidates` that exists runs. */
export function commandOutput(
  candidates: string[],
  args: string[],
  timeoutMs = 15_000,
): { output: string } | { error: string } {
  for (const cmd of candidates) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 });
    const err: NodeJS.ErrnoException | undefined = r.error;
    const code = err?.code;
    if (code === 'ENOENT') continue;
    const name = path.basename(cmd);
    if (r.error)
      return {
        error: `${name} ${code === 'ETIMEDOUT' ? `gave no answer within ${timeoutMs / 1000} s` : `did not run (${r.error.message})`}`,
      };
    if (r.status !== 0)
      return {
        error:
          `${[name, ...args].join(' ')} exited with ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`.trim(),
      };
    return { output: r.stdout };
  }
  return { error: `${path.basename(candidates[0] ?? '?')} not found` };
}

/** The LD_LIBRARY_PATH folders and their file names (unreadable folders are listed empty). */
export function ldLibraryPathFolders(value = process.env.LD_LIBRARY_PATH ?? ''): { dir: string; files: string[] }[] {
  return value
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => {
      try {
        return { dir, files: fs.readdirSync(dir) };
      } catch {
        return { dir, files: [] };
      }
    });
}

/** The package folder `name` resolves to from the runtime folder first, then as the caller resolves it. */
function resolvePackage(name: string, runtimeDir: string | undefined): string | undefined {
  const paths = [...(runtimeDir ? [runtimeModules(runtimeDir)] : []), __dirname, process.cwd()];
  try {
    return path.dirname(require.resolve(`${name}/package.json`, { paths }));
  } catch {
    return undefined;
  }
}

export interface ProbeOptions {
  /** The GPU runtime folder (installed by `aft gpu install` or the extension). */
  runtimeDir?: string;
  /** Where the sidecar's own onnxruntime-node is (default: resolved from here). */
  onnxDir?: string;
}

/** Everything but the WebGPU adapter, read from this machine. */
export function probeGpuMachine(opts: ProbeOptions = {}): GpuFacts {
  const linux = process.platform === 'linux';
  const nvidiaSmi = commandOutput(['nvidia-smi', '/usr/bin/nvidia-smi', '/usr/local/nvidia/bin/nvidia-smi'], []);
  const ldconfig = linux
    ? commandOutput(['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig'], ['-p'])
    : { error: `no ldconfig on ${process.platform}` };
  const ldLibraryPath = linux ? ldLibraryPathFolders() : [];
  // Full versions: the files that sonames lead to (libcudnn.so.9 → libcudnn.so.9.1.0).
  const realPaths: Record<string, string> = {};
  const listed = [
    ...('output' in ldconfig ? [...ldconfig.output.matchAll(/=>\s+(\S+)/g)].map((m) => m[1]) : []),
    ...ldLibraryPath.flatMap(({ dir, files }) => files.map((f) => path.join(dir, f))),
  ].filter((p) => /\/lib(cudart|cublas|cublasLt|cufft|curand|cusolver|cusparse|cudnn)\.so/.test(p));
  for (const p of listed) {
    try {
      realPaths[p] = fs.realpathSync(p);
    } catch {
      // A dangling link: the listed name is all there is.
    }
  }
  const tfDir = resolvePackage('@tensorflow/tfjs-node-gpu', opts.runtimeDir);
  const tf = tfDir ? tfjsNodeGpuFiles(tfDir) : undefined;
  // onnxruntime-node: the runtime folder's copy when it has the CUDA provider (the sidecar loads that one), else the sidecar's own.
  const runtimeOnnx = opts.runtimeDir ? path.join(runtimeModules(opts.runtimeDir), 'onnxruntime-node') : undefined;
  const candidates = [runtimeOnnx, opts.onnxDir ?? resolvePackage('onnxruntime-node', undefined)].filter(
    (d): d is string => !!d,
  );
  const withCuda = candidates.find((d) => fs.existsSync(path.join(onnxBindingDir(d), onnxCudaProviderFile())));
  return {
    platform: process.platform,
    arch: process.arch,
    nvidiaSmi,
    ldconfig,
    ldLibraryPath,
    realPaths,
    tfjsNodeGpu: tf ?? {
      missing: `it is neither in ${opts.runtimeDir ? `the GPU runtime folder ${opts.runtimeDir}` : 'a GPU runtime folder'} nor next to the sidecar`,
    },
    onnxCuda: withCuda
      ? { dir: withCuda }
      : {
          missing: candidates.length
            ? `${onnxCudaProviderFile()} is in none of ${candidates.map((d) => onnxBindingDir(d)).join(', ')}`
            : 'onnxruntime-node is not installed',
        },
  };
}
