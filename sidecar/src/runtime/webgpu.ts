/**
 * WebGPU in Node through Dawn: the npm package `webgpu` (an optional dependency whose native
 * binary ships inside the package, for Linux, macOS and Windows; it drives Vulkan, Metal or
 * D3D12). One GPU instance per process, shared by the tfjs `webgpu` backend (runtime/tf.ts) and
 * by the check that onnxruntime's `auto` device makes before it tries its own WebGPU provider
 * (runtime/onnx.ts). The adapter is described for logs, the CLI and the Compute view, and is
 * classed as a real GPU or a software rasteriser (Mesa's llvmpipe/lavapipe, SwiftShader, WARP):
 * `auto` passes over a software adapter, which is slower than the wasm backend on the same CPU.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GpuAdapterInfo, GpuLimits } from '../../../core/common/protocol/rpc';

// The parts of the WebGPU API used here (the full types are in @webgpu/types, which would add
// browser globals to every file of the project).
interface DawnAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
export interface DawnAdapter {
  readonly info?: DawnAdapterInfo;
  readonly isFallbackAdapter?: boolean;
  readonly limits: Record<string, number>;
  readonly features: ReadonlySet<string>;
  requestDevice(descriptor?: unknown): Promise<unknown>;
}
export interface DawnGpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<DawnAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): DawnGpu;
  globals: Record<string, unknown>;
}

// `webgpu` is an ES module that may be missing: imported by a computed name so that bundlers
// leave it alone, and with import() rather than require() (Node before 20.19 cannot require ESM).
const importOptional = (name: string): Promise<unknown> => import(name);

let gpu: Promise<DawnGpu> | undefined;

/**
 * Why WebGPU is turned off for this process, or undefined: AFT_WEBGPU=off (the extension sets it
 * with `aft.device: cpu`, next to an empty CUDA_VISIBLE_DEVICES, to keep the sidecar off GPUs).
 */
export function webgpuDisabled(): string | undefined {
  return process.env.AFT_WEBGPU === 'off'
    ? 'WebGPU is turned off (AFT_WEBGPU=off, as aft.device: cpu sets it)'
    : undefined;
}

/**
 * The process's WebGPU instance, with the WebGPU globals (GPUBufferUsage, ...) and
 * `navigator.gpu` installed, as tfjs-backend-webgpu expects them. Throws with a reason when the
 * `webgpu` package is not installed or its binary does not load.
 */
export function webgpuInstance(): Promise<DawnGpu> {
  const off = webgpuDisabled();
  if (off) return Promise.reject(new Error(off));
  gpu ??= (async () => {
    // Mesa's Vulkan loader and window-system code warn on stderr when XDG_RUNTIME_DIR is unset
    // (as it is under CI and in services); a private folder of our own keeps them quiet.
    if (!process.env.XDG_RUNTIME_DIR) {
      const dir = path.join(
        os.tmpdir(),
        `aft-runtime-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`,
      );
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        process.env.XDG_RUNTIME_DIR = dir;
      } catch {
        // Only a warning is at stake.
      }
    }
    let mod: DawnModule;
    try {
      mod = (await importOptional('webgpu')) as DawnModule;
    } catch (e) {
      throw new Error(`the webgpu package (Dawn) did not load: ${firstLine(e)}`);
    }
    Object.assign(globalThis, mod.globals);
    const instance = mod.create([]);
    // Node 21+ has a `navigator` of its own (without `gpu`); Node 20 has none.
    const g = globalThis as { navigator?: object };
    const nav = g.navigator ?? (g.navigator = {});
    Object.defineProperty(nav, 'gpu', { value: instance, configurable: true, enumerable: true });
    return instance;
  })();
  const p = gpu;
  // A failure is not cached: a later call tries again (and says why again).
  p.catch(() => {
    if (gpu === p) gpu = undefined;
  });
  return p;
}

/** The adapter WebGPU offers for compute (high-performance), or an error saying why there is none. */
export async function requestAdapter(): Promise<{ adapter: DawnAdapter; info: GpuAdapterInfo }> {
  const instance = await webgpuInstance();
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU found no adapter (no Vulkan, Metal or D3D12 driver that Dawn can use)');
  return { adapter, info: describeAdapter(adapter) };
}

const SOFTWARE = /\b(llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render driver)\b/i;

/** Plain data about an adapter; `software` from its fallback flag, architecture or names. */
export function describeAdapter(adapter: DawnAdapter): GpuAdapterInfo {
  const i = adapter.info ?? {};
  const base = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
  };
  const lim = adapter.limits;
  const limits: GpuLimits = {
    maxBufferSize: lim.maxBufferSize,
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
  };
  const why = softwareReason({ ...base, isFallbackAdapter: i.isFallbackAdapter ?? adapter.isFallbackAdapter });
  return { ...base, software: why !== undefined, ...(why ? { softwareReason: why } : {}), limits };
}

/** Why an adapter counts as a software rasteriser, or undefined for a GPU. */
export function softwareReason(i: DawnAdapterInfo): string | undefined {
  for (const s of [i.description, i.device, i.vendor]) {
    const m = s ? SOFTWARE.exec(s) : null;
    if (m) return `it is ${m[1]}`;
  }
  if (/software/i.test(i.architecture ?? '')) return `its architecture is '${i.architecture}'`;
  if (i.isFallbackAdapter) return 'it is a fallback adapter';
  return undefined;
}

/** One line for logs: `llvmpipe: Mesa 25.0.7 (software; max buffer 4.0 GiB)`. */
export function adapterLine(a: GpuAdapterInfo): string {
  const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unnamed adapter';
  return `${name} (${a.software ? 'software' : 'GPU'}; max buffer ${bytes(a.limits.maxBufferSize)}, max storage binding ${bytes(a.limits.maxStorageBufferBindingSize)})`;
}

function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}
