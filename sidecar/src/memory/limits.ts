/**
 * What a backend can hold against the estimate (estimate.ts): the wasm backend's heap is 32-bit
 * (tfjs-backend-wasm 4.22 grows it to 4 GiB − 64 KiB at most, its `getHeapMax`), the cpu backend's
 * tensors are the process's own memory (the machine's), and the GPU backends say no total:
 * WebGPU's adapter limits bound one buffer, so only the largest tensor is held to them. A refusal
 * is a bad-input error with the numbers and what to change: the largest batch that fits, a
 * smaller input, another backend.
 */
import * as os from 'node:os';
import { badInput, type AftError, type SourceLocation } from '../../../core/common/util/errors';
import type { BackendChoice } from '../runtime/tf';
import { describeEstimate, formatBytes, type MemoryEstimate } from './estimate';

/** tfjs-backend-wasm 4.22's largest heap (`getHeapMax()` of its Emscripten build). */
export const WASM_HEAP_MAX = 4294901760;

/**
 * The process besides its tensors (Node, tfjs, the sidecar's modules, the data): resident memory
 * less the wasm heap was 170-250 MiB in the measured cases (test/fixtures/memory/measured.json).
 */
export const PROCESS_BASE_BYTES = 250 * 2 ** 20;

export interface Machine {
  totalBytes: number;
  freeBytes: number;
}

export const thisMachine = (): Machine => ({ totalBytes: os.totalmem(), freeBytes: os.freemem() });

export interface MemoryVerdict {
  level: 'ok' | 'warn' | 'refuse';
  /** What the estimate is held against, in bytes, and what that is, e.g. "the wasm heap's 4.00 GiB". */
  needBytes: number;
  limitBytes?: number;
  limitName?: string;
  /** One line for logs and `aft validate`. */
  line: string;
}

/** A WebGPU adapter's per-buffer limits (runtime/webgpu.ts `GpuLimits`), when the backend runs on one. */
export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/**
 * What the backend needs for this estimate and what it can hold. On webgpu with the adapter's
 * limits known, the largest single tensor must fit one storage binding.
 */
export function memoryVerdict(
  e: MemoryEstimate,
  backend: BackendChoice,
  machine: Machine = thisMachine(),
  buffers?: BufferLimits,
): MemoryVerdict {
  const est = `estimated peak memory ${describeEstimate(e)}`;
  if (backend === 'wasm' || backend === 'auto') {
    // The estimate's factors are fitted to this heap (estimate.ts).
    const need = e.tensorBytes;
    const fits = need <= WASM_HEAP_MAX;
    const limitName = `the wasm heap's ${formatBytes(WASM_HEAP_MAX)} (32-bit)`;
    const level = fits ? 'ok' : backend === 'wasm' ? 'refuse' : 'warn';
    return {
      level,
      needBytes: need,
      limitBytes: WASM_HEAP_MAX,
      limitName,
      line: `${est}; on wasm ~${formatBytes(need)} of ${limitName}${fits ? '' : backend === 'auto' ? ': too much if `auto` picks wasm (no GPU backend)' : ''}`,
    };
  }
  if (backend === 'cpu') {
    const need = e.tensorBytes + e.hostBytes + PROCESS_BASE_BYTES;
    const level = need > machine.totalBytes ? 'refuse' : need > machine.freeBytes ? 'warn' : 'ok';
    return {
      level,
      needBytes: need,
      limitBytes: level === 'refuse' ? machine.totalBytes : machine.freeBytes,
      limitName:
        level === 'refuse'
          ? `this machine's ${formatBytes(machine.totalBytes)}`
          : `the ${formatBytes(machine.freeBytes)} free now`,
      line: `${est}; the process ~${formatBytes(need)}, this machine has ${formatBytes(machine.freeBytes)} free of ${formatBytes(machine.totalBytes)}`,
    };
  }
  if (backend === 'webgpu' && buffers && e.largestTensorBytes > 0) {
    const limit = Math.min(buffers.maxBufferSize, buffers.maxStorageBufferBindingSize);
    const fits = e.largestTensorBytes <= limit;
    const limitName = `the adapter's largest storage buffer (${formatBytes(limit)})`;
    return {
      level: fits ? 'ok' : 'refuse',
      needBytes: e.largestTensorBytes,
      limitBytes: limit,
      limitName,
      line: `${est}; its largest tensor ~${formatBytes(e.largestTensorBytes)} against ${limitName}; WebGPU says no memory total`,
    };
  }
  return { level: 'ok', needBytes: e.tensorBytes, line: `${est}; ${backend} says no memory total, so none is checked` };
}

export interface Remedies {
  /** The largest batch that fits, if a smaller one does (the estimate at another batch). */
  batchThatFits?: number;
  /** The input side the student could be trained at instead, when its size is not fixed by its weights. */
  smallerSize?: number;
  /** Other backends to try. */
  backends: string[];
}

/**
 * The largest batch below `batch` whose estimate the verdict accepts (`at(b)` re-estimates), or
 * undefined when even batch 1 does not fit (then the evaluation chunk or the weights are too big).
 */
export function largestBatchThatFits(batch: number, at: (b: number) => MemoryVerdict): number | undefined {
  if (at(1).level === 'refuse') return undefined;
  let lo = 1;
  let hi = batch;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid).level === 'refuse') hi = mid;
    else lo = mid;
  }
  return lo;
}

/** The refusal: the numbers (estimate, limit, the biggest parts) and what to change. */
export function memoryRefusal(
  e: MemoryEstimate,
  v: MemoryVerdict,
  backend: BackendChoice,
  remedies: Remedies,
  where: SourceLocation,
): AftError {
  const details = [
    ...e.parts.slice(0, 4).map((p) => `${p.name}: ${formatBytes(p.bytes)}`),
    ...(remedies.batchThatFits !== undefined ? [`train.batch: ${remedies.batchThatFits} fits`] : []),
    ...(remedies.smallerSize !== undefined
      ? [`downstream.input_size: [${remedies.smallerSize}, ${remedies.smallerSize}] fits at this batch`]
      : []),
    ...(remedies.backends.length ? [`backend: ${remedies.backends.join(' or ')}`] : []),
  ];
  const need =
    backend === 'webgpu'
      ? `one tensor of ~${formatBytes(v.needBytes)}`
      : `~${formatBytes(v.needBytes)} on ${backend} (${formatBytes(e.tensorBytes)} of tensors at the ${e.peakPhase})`;
  return badInput(
    `training needs ${need}, more than ${v.limitName ?? 'it can hold'}; change one of these`,
    where,
    details,
  );
}
