/** The memory estimate as data for `aft validate --json` and `aft/validate` (core/common/protocol/rpc.ts). */
import type { MemoryEstimateData } from '../../../core/common/protocol/rpc';
import type { MemoryCheck } from './studentMemory';

export function memoryJson(m: MemoryCheck): MemoryEstimateData {
  const { estimate: e, verdict: v } = m;
  return {
    level: v.level,
    tensorBytes: e.tensorBytes,
    peakPhase: e.peakPhase,
    parts: e.parts,
    hostBytes: e.hostBytes,
    needBytes: v.needBytes,
    ...(v.limitBytes !== undefined ? { limitBytes: v.limitBytes } : {}),
    ...(v.limitName !== undefined ? { limitName: v.limitName } : {}),
    activationsCounted: e.activationsCounted,
    largestTensorBytes: e.largestTensorBytes,
    line: v.line,
  };
}
