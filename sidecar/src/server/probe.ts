/**
 * What the Compute view shows: which backends can load, the devices, and versions. Probing
 * only resolves packages (it does not start a backend) so that `initialize` answers quickly.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { BackendProbe, DeviceInfo } from '../../../core/common/protocol/rpc';
import { BACKENDS } from '../runtime/tf';

const PACKAGE_OF: Record<string, string | undefined> = {
  gpu: '@tensorflow/tfjs-node-gpu',
  native: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
};

export function probeBackends(): { backends: BackendProbe[]; defaultBackend: string | null } {
  const backends: BackendProbe[] = [];
  let defaultBackend: string | null = null;
  for (const b of BACKENDS) {
    const pkg = PACKAGE_OF[b.id];
    try {
      if (pkg) require.resolve(pkg);
      backends.push({ id: b.id, description: b.description, available: true });
      defaultBackend ??= b.id;
    } catch (e) {
      backends.push({ id: b.id, description: b.description, available: false, reason: (e as Error).message.split('\n')[0] });
    }
  }
  return { backends, defaultBackend };
}

/** The CPU, and NVIDIA GPUs when `nvidia-smi` is there to name them. */
export function probeDevices(): DeviceInfo[] {
  const cpus = os.cpus();
  const devices: DeviceInfo[] = [{ kind: 'cpu', name: cpus[0]?.model.trim() ?? os.arch(), cores: cpus.length, memoryMiB: Math.round(os.totalmem() / 2 ** 20) }];
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 3000 });
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
  for (const pkg of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node']) {
    try {
      const file = require.resolve(`${pkg}/package.json`);
      out[pkg] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      // Not installed: the Compute view lists only what is there.
    }
  }
  return out;
}
