/**
 * `aft gpu install [--dir DIR]` and `aft gpu check [--dir DIR] [--json]`: the GPU runtime
 * (tfjs-node-gpu, onnxruntime-node's CUDA provider) installed with npm where a network allows,
 * and what the machine has against what those builds need (core/node/gpu), with the WebGPU
 * adapter. Exit codes: 0 everything usable, 1 something missing (the report says what to
 * install) or the install failed (nothing changed), 2 bad arguments.
 */
import * as path from 'node:path';
import { badInput } from '../../../core/common/util/errors';
import { formatGpuReport, gpuReport, type GpuFacts, type GpuReport } from '../../../core/node/gpu/check';
import { GpuInstallError, installGpuRuntime } from '../../../core/node/gpu/install';
import { probeGpuMachine } from '../../../core/node/gpu/probe';
import { defaultGpuRuntimeDir } from '../../../core/node/gpu/runtime';
import { requestAdapter } from '../runtime/webgpu';

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}

/** This machine's facts, the WebGPU adapter included (through the sidecar's Dawn). */
export async function gpuFacts(runtimeDir: string): Promise<GpuFacts> {
  const facts = probeGpuMachine({ runtimeDir });
  try {
    facts.webgpu = { adapter: (await requestAdapter()).info };
  } catch (e) {
    facts.webgpu = { error: firstLine(e) };
  }
  return facts;
}

async function check(runtimeDir: string, json: boolean): Promise<{ code: number; report: GpuReport }> {
  const report = gpuReport(await gpuFacts(runtimeDir));
  process.stdout.write(
    json
      ? JSON.stringify({ runtimeDir, ...report }) + '\n'
      : `GPU runtime folder: ${runtimeDir}\n${formatGpuReport(report)}\n`,
  );
  return { code: report.allUsable ? 0 : 1, report };
}

export async function gpuCommand(rest: string[], values: { dir?: string; json?: boolean }): Promise<number> {
  const [sub, ...extra] = rest;
  if (extra.length)
    throw badInput(`aft gpu ${sub ?? ''} takes no further arguments, got '${extra.join(' ')}' (see aft --help)`);
  if (values.dir === '') throw badInput('--dir expects a folder');
  const dir = values.dir ? path.resolve(values.dir) : defaultGpuRuntimeDir();
  switch (sub) {
    case 'check':
      return (await check(dir, !!values.json)).code;
    case 'install': {
      try {
        // AFT_GPU_HOSTS (comma-separated URLs) replaces the hosts whose reach is checked first: tests
        // point it at an address that refuses, to see an install without network on any machine.
        const hosts = process.env.AFT_GPU_HOSTS?.split(',').filter(Boolean);
        await installGpuRuntime({
          dir,
          ...(hosts?.length ? { hosts, probeTimeoutMs: 3000 } : {}),
          onProgress: (m) => process.stderr.write(`${m}\n`),
        });
      } catch (e) {
        if (!(e instanceof GpuInstallError)) throw e;
        process.stderr.write(`error: ${e.message}\n`);
        return 1;
      }
      process.stderr.write(
        `GPU runtime installed in ${dir}${values.dir && !process.env.AFT_GPU_RUNTIME ? ` (set AFT_GPU_RUNTIME=${dir} so that aft uses it)` : ''}\n`,
      );
      return (await check(dir, !!values.json)).code;
    }
    default:
      throw badInput(
        sub === undefined
          ? 'aft gpu needs a command: install or check (see aft --help)'
          : `unknown command 'aft gpu ${sub}': install or check (see aft --help)`,
      );
  }
}
