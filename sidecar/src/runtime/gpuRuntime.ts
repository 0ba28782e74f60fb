/**
 * The GPU runtime folder in the CLI's process (the extension passes it to the sidecar it spawns as
 * NODE_PATH and AFT_GPU_RUNTIME). tfjs-node-gpu there must register with the sidecar's own
 * TensorFlow.js, which it finds through NODE_PATH (the installer removes the copies npm put next
 * to it); onnxruntime-node there is loaded by runtime/onnx.ts when it holds the CUDA provider.
 */
import Module from 'node:module';
import * as path from 'node:path';
import { defaultGpuRuntimeDir, isGpuRuntimeInstalled, runtimeModules } from '../../../core/node/gpu/runtime';

/** Makes the installed GPU runtime loadable in this process; answers its folder, or undefined when none is installed. */
export function useGpuRuntime(dir = defaultGpuRuntimeDir()): string | undefined {
  if (!isGpuRuntimeInstalled(dir)) return undefined;
  process.env.AFT_GPU_RUNTIME ??= dir;
  const current = (process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean);
  const own: string[] = [];
  try {
    // The folder that holds our @tensorflow/tfjs (…/node_modules).
    own.push(path.resolve(path.dirname(require.resolve('@tensorflow/tfjs/package.json')), '..', '..'));
  } catch {
    // No TensorFlow.js here: the gpu backend will say so when it is tried.
  }
  const wanted = [...new Set([runtimeModules(dir), ...own, ...current])];
  if (wanted.join(path.delimiter) !== current.join(path.delimiter)) {
    process.env.NODE_PATH = wanted.join(path.delimiter);
    // Node reads NODE_PATH once at start; this re-reads it (stable since Node 0.x, used by tools that set NODE_PATH late).
    (Module as unknown as { _initPaths(): void })._initPaths();
  }
  return dir;
}
