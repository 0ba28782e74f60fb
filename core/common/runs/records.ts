/**
 * Validators for the run store's files as a reader meets them (docs/run-store.md): a line of
 * metrics.jsonl, a ρ file, status.json, summary.json. Each returns a typed value or says what
 * was expected and what arrived, so readers (dashboards, `aft report`) check input once, here.
 * Pure: no Node, no DOM (the webview data code imports these types).
 */
import type { MetricsEvent, RunState, RunSummary, Segment } from '../protocol/events';

/** status.json: what a run is doing, written atomically by its run store (docs/run-store.md). */
export interface RunStatus {
  format: 'aft-run-status';
  version: 1;
  runId: string;
  experiment: string;
  state: RunState;
  pid: number;
  /** The process's start time (Linux: /proc/PID/stat field 22), so a reused pid is told apart. */
  processStart?: number;
  host: string;
  started: string;
  /** Refreshed at least every `heartbeatSeconds` while running (the heartbeat). */
  updated: string;
  heartbeatSeconds?: number;
  finished?: string;
  message?: string;
  progress?: { fraction: number; label: string; etaSeconds: number | null };
  /**
   * A run trained by several processes sharing its folder (`aft run --shard i/n`; shard.json):
   * `count` shards of the plan whose hash is `hash`. While `running`, its state and progress are
   * derived from the shards' records, not from this file's pid (docs/sharding.md).
   */
  sharded?: { count: number; hash: string };
}

/** A line of metrics.jsonl: a `MetricsEvent` without `type` and `runId`. */
export type MetricsRow = Omit<MetricsEvent, 'type' | 'runId'>;

/** A `rho/<method>/seed-<s>.json` file (`step` only in files written while training). */
export interface RhoFile {
  method: string;
  seed: number;
  step?: number;
  segments: Segment[];
  values: number[];
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'string'
        ? JSON.stringify(v.slice(0, 40))
        : typeof v;
/** JSON has no NaN or Infinity; a diverged run may write null for them, which charts treat as a gap. */
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

const RUN_STATES: readonly RunState[] = ['running', 'completed', 'failed', 'cancelled'];

/** The numeric fields of a metrics row; anything else there (null from a diverged run) reads as NaN. */
const ROW_NUMBERS = ['beta', 'epoch', 'ce', 'reg', 'loss', 'trainAccuracy', 'evalAccuracy', 'lr', 'timestamp'] as const;

/**
 * Checks a parsed metrics line and normalises it in place (it is a fresh object from
 * `JSON.parse`; not copying it matters at 50,000 rows per series).
 */
export function checkMetricsRow(raw: unknown): Checked<MetricsRow> {
  if (!isRecord(raw)) return { ok: false, error: `expected an object, got ${describe(raw)}` };
  if (typeof raw.method !== 'string')
    return { ok: false, error: `expected "method" to be a string, got ${describe(raw.method)}` };
  for (const k of ['seed', 'step'] as const) {
    if (typeof raw[k] !== 'number' || !Number.isFinite(raw[k]))
      return { ok: false, error: `expected "${k}" to be a number, got ${describe(raw[k])}` };
  }
  if (raw.phase !== 'tune' && raw.phase !== 'final')
    return { ok: false, error: `expected "phase" to be "tune" or "final", got ${describe(raw.phase)}` };
  for (const k of ROW_NUMBERS) if (typeof raw[k] !== 'number') raw[k] = NaN;
  if (raw.rho !== undefined) {
    if (!isRecord(raw.rho)) delete raw.rho;
    else {
      for (const [source, r] of Object.entries(raw.rho)) {
        if (!isRecord(r)) delete raw.rho[source];
        else raw.rho[source] = { mean: num(r.mean), min: num(r.min), max: num(r.max) };
      }
    }
  }
  return { ok: true, value: raw as unknown as MetricsRow };
}

export function checkRhoFile(raw: unknown): Checked<RhoFile> {
  if (!isRecord(raw)) return { ok: false, error: `expected an object, got ${describe(raw)}` };
  if (typeof raw.method !== 'string')
    return { ok: false, error: `expected "method" to be a string, got ${describe(raw.method)}` };
  if (typeof raw.seed !== 'number')
    return { ok: false, error: `expected "seed" to be a number, got ${describe(raw.seed)}` };
  if (!Array.isArray(raw.values))
    return { ok: false, error: `expected "values" to be an array of numbers, got ${describe(raw.values)}` };
  if (!Array.isArray(raw.segments))
    return { ok: false, error: `expected "segments" to be an array, got ${describe(raw.segments)}` };
  const values = raw.values.map(num);
  const segments: Segment[] = [];
  for (const [i, s] of raw.segments.entries()) {
    if (!isRecord(s) || typeof s.name !== 'string' || !Number.isInteger(s.offset) || !Number.isInteger(s.width)) {
      return { ok: false, error: `expected segments[${i}] to be {name, offset, width}, got ${describe(s)}` };
    }
    const seg = { name: s.name, offset: s.offset as number, width: s.width as number };
    if (seg.offset < 0 || seg.width < 0 || seg.offset + seg.width > values.length) {
      return {
        ok: false,
        error: `segment "${seg.name.slice(0, 40)}" covers [${seg.offset}, ${seg.offset + seg.width}) but there are ${values.length} values`,
      };
    }
    segments.push(seg);
  }
  return {
    ok: true,
    value: {
      method: raw.method,
      seed: raw.seed,
      ...(typeof raw.step === 'number' ? { step: raw.step } : {}),
      segments,
      values,
    },
  };
}

export function checkStatus(raw: unknown): Checked<RunStatus> {
  if (!isRecord(raw) || raw.format !== 'aft-run-status')
    return {
      ok: false,
      error: `expected an aft-run-status object, got ${isRecord(raw) ? `format ${describe(raw.format)}` : describe(raw)}`,
    };
  if (typeof raw.runId !== 'string')
    return { ok: false, error: `expected "runId" to be a string, got ${describe(raw.runId)}` };
  if (!RUN_STATES.includes(raw.state as RunState))
    return { ok: false, error: `expected "state" to be one of ${RUN_STATES.join(', ')}, got ${describe(raw.state)}` };
  return { ok: true, value: raw as unknown as RunStatus };
}

export function checkSummary(raw: unknown): Checked<RunSummary> {
  if (!isRecord(raw) || raw.format !== 'aft-run-summary')
    return {
      ok: false,
      error: `expected an aft-run-summary object, got ${isRecord(raw) ? `format ${describe(raw.format)}` : describe(raw)}`,
    };
  if (!isRecord(raw.methods))
    return { ok: false, error: `expected "methods" to be an object, got ${describe(raw.methods)}` };
  if (!Array.isArray(raw.sources))
    return { ok: false, error: `expected "sources" to be an array, got ${describe(raw.sources)}` };
  for (const [name, m] of Object.entries(raw.methods)) {
    if (!isRecord(m) || !isRecord(m.test_accuracy) || typeof m.test_accuracy.mean !== 'number') {
      return { ok: false, error: `expected methods.${name.slice(0, 40)}.test_accuracy.mean to be a number` };
    }
  }
  return { ok: true, value: raw as unknown as RunSummary };
}
