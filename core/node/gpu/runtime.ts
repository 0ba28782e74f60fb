/**
 * Where the GPU runtime (`@tensorflow/tfjs-node-gpu` and onnxruntime-node with its CUDA provider,
 * installed by core/node/gpu/install.ts) lives, and what of it is there. The extension keeps it in
 * its global storage; the `aft` CLI in the user's data folder (`aft gpu install --dir` or
 * AFT_GPU_RUNTIME choose another). Plain file checks only: nothing here loads a native module.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The versions the GPU runtime installs (the sidecar's own TensorFlow.js and onnxruntime-node). */
export const TFJS_NODE_GPU_VERSION = '4.22.0';
export const ONNXRUNTIME_NODE_VERSION = '1.30.0';
export const GPU_PACKAGES = [
  `@tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}`,
  `onnxruntime-node@${ONNXRUNTIME_NODE_VERSION}`,
];

/** The folder the extension installs the GPU runtime into, under its global storage. */
export function gpuRuntimeDir(storageDir: string): string {
  return path.join(storageDir, 'gpu-runtime');
}

/**
 * The CLI's GPU runtime folder: $AFT_GPU_RUNTIME, else `aft-studio/gpu-runtime` in the user's data
 * folder ($XDG_DATA_HOME or ~/.local/share; ~/Library/Application Support; %LOCALAPPDATA%).
 */
export function defaultGpuRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AFT_GPU_RUNTIME) return path.resolve(env.AFT_GPU_RUNTIME);
  const base =
    process.platform === 'win32'
      ? (env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'))
      : process.platform === 'darwin'
        ? path.join(os.homedir(), 'Library', 'Application Support')
        : env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'aft-studio', 'gpu-runtime');
}

/** The runtime folder's node_modules, which the sidecar adds to its module paths. */
export function runtimeModules(dir: string): string {
  return path.join(dir, 'node_modules');
}

export function isGpuRuntimeInstalled(dir: string): boolean {
  return fs.existsSync(path.join(runtimeModules(dir), '@tensorflow', 'tfjs-node-gpu', 'package.json'));
}

/** The file name of onnxruntime's CUDA provider library on this platform. */
export function onnxCudaProviderFile(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
}

/** Where an onnxruntime-node package folder keeps this platform's native libraries. */
export function onnxBindingDir(packageDir: string): string {
  return path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
}

/** The GPU runtime's onnxruntime-node folder when it holds the CUDA provider, else undefined. */
export function runtimeOnnxWithCuda(dir: string): string | undefined {
  const pkg = path.join(runtimeModules(dir), 'onnxruntime-node');
  return fs.existsSync(path.join(onnxBindingDir(pkg), onnxCudaProviderFile())) ? pkg : undefined;
}

/** What an installed tfjs-node-gpu holds: its version, and whether its install script fetched libtensorflow and the binding. */
export interface TfjsNodeGpuFiles {
  version: string;
  dir: string;
  libtensorflow: boolean;
  binding: boolean;
}

export function tfjsNodeGpuFiles(packageDir: string): TfjsNodeGpuFiles | undefined {
  let version: string;
  try {
    version = (JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return undefined;
  }
  const has = (rel: string, re: RegExp): boolean => {
    try {
      return fs.readdirSync(path.join(packageDir, rel), { recursive: true }).some((f) => re.test(String(f)));
    } catch {
      return false;
    }
  };
  return {
    version,
    dir: packageDir,
    libtensorflow: has('deps', /(^|[/\\])(lib)?tensorflow(\.so(\.\d+)*|\.dll|\.dylib)$/),
    binding: has('lib', /tfjs_binding\.node$/),
  };
}
