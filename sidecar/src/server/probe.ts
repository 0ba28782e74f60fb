/**
 * What the Compute view shows: which backends can load, the devices, and versions. Probing
 * resolves packages and asks WebGPU for its adapter; it starts no backend, so that `initialize`
 * answers quickly.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { BackendProbe, DeviceInfo } from '../../../core/common/protocol/rpc';
import { BACKENDS } from '../runtime/tf';
import { requestAdapter } from '../runtime/webgpu';

const PACKAGES_OF: Record<string, string[] | undefined> = {
  gpu: ['@tensorflow/tfjs-node-gpu'],
  webgpu: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'],
  native: ['@tensorflow/tfjs-node'],
  wasm: ['@tensorflow/tfjs-backend-wasm'],
};

/** How long the WebGPU adapter may take to answer before the probe gives up on it. */
const ADAPTER_TIMEOUT_MS = 10_000;

/**
 * Whether each backend's packages are installed; for webgpu also the adapter Dawn offers (its
 * first request costs ~0.3 s on lavapipe, and the instance is the one a run then uses). A software
 * adapter is available by name, but not what `auto` picks.
 */
export async function probeBackends(): Promise<{ backends: BackendProbe[]; defaultBackend: string | null }> {
  const backends: BackendProbe[] = [];
  let defaultBackend: string | null = null;
  for (const b of BACKENDS) {
    try {
      for (const pkg of PACKAGES_OF[b.id] ?? []) require.resolve(pkg);
      if (b.id === 'webgpu') {
        const { info } = await withTimeout(requestAdapter(), ADAPTER_TIMEOUT_MS, 'the WebGPU adapter did not answer');
        backends.push({
          id: b.id,
          description: b.description,
          available: true,
          adapter: info,
          ...(info.software
            ? { notAuto: `software adapter (${info.softwareReason}): used only when chosen by name` }
            : {}),
        });
        if (!info.software) defaultBackend ??= b.id;
        continue;
      }
      backends.push({ id: b.id, description: b.description, available: true });
      defaultBackend ??= b.id;
    } catch (e) {
      backends.push({
        id: b.id,
        description: b.description,
        available: false,
        reason: (e as Error).message.split('\n')[0],
      });
    }
  }
  return { backends, defaultBackend };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The CPU, and NVIDIA GPUs when `nvidia-smi` is there to name them. */
export function probeDevices(): DeviceInfo[] {
  const cpus = os.cpus();
  const devices: DeviceInfo[] = [
    {
      kind: 'cpu',
      name: cpus[0]?.model.trim() ?? os.arch(),
      cores: cpus.length,
      memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    },
  ];
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], {
    encoding: 'utf8',
    timeout: 3000,
  });
  if (smi.status === 0) {
    for (const line of smi.stdout.split('\n')) {
      const [name, mem] = line.split(',').map((s) => s.trim());
      if (name) devices.push({ kind: 'gpu', name, ...(Number(mem) > 0 ? { memoryMiB: Number(mem) } : {}) });
    }
  }
  return devices;
}

export function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pkg of [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-webgpu',
    'webgpu',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    'onnxruntime-node',
  ]) {
    try {
      const file = require.resolve(`${pkg}/package.json`);
      out[pkg] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      // Not installed: the Compute view lists only what is there.
    }
  }
  return out;
}
