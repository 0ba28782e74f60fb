/** The memory estimate as data for `--json` outputs (bytes as numbers, the verdict's words). */
import type { StudentMemoryCheck } from './studentMemory';

export interface MemoryJson {
  level: 'ok' | 'warn' | 'refuse';
  tensorBytes: number;
  peakPhase: string;
  parts: { name: string; bytes: number }[];
  hostBytes: number;
  needBytes: number;
  limitBytes?: number;
  limitName?: string;
  activationsCounted: boolean;
  line: string;
}

export function memoryJson(m: StudentMemoryCheck): MemoryJson {
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
    line: v.line,
  };
}
