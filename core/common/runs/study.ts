/**
 * A study's record, `study.json` in its folder (docs/run-store.md): which field varied over which
 * values, the hash of the file (and run options) it was started from, and the figure it makes.
 * Pure: no Node, no DOM (the webviews import these types).
 */
import type { RunState, RunSummary } from '../protocol/events';
import type { RunStatus } from './records';
import { isRecord, type Checked } from './records';

/**
 * Which of the paper's analyses a study is; it follows from what varies (study.ts `studyKind`):
 * - `noise`: the width of a noise source (fig 6b, mean ρ per source: fig 6c);
 * - `sources`: one source at a time (fig 3: accuracy against the source's linear probe);
 * - `subsets`: sets of sources (fig 2c/d: bars per method);
 * - `ablation`: methods or method variants (fig 7b: bars ± SE);
 * - `field`: any other field (a line per method over numbers, bars otherwise).
 */
export const STUDY_KINDS = ['noise', 'sources', 'subsets', 'ablation', 'field'] as const;
export type StudyKind = (typeof STUDY_KINDS)[number];

/** One value of a study: its place, how it is labelled, and the value as written. */
export interface StudyValue {
  index: number;
  label: string;
  value: unknown;
  /** The value as a number where the figure has a numeric axis (noise width, lr, steps...). */
  x?: number;
}

export interface StudyRecord {
  format: 'aft-study';
  version: 1;
  studyId: string;
  experiment: string;
  /** Absolute path of the experiment file (a study is resumed by `aft run` on the same file). */
  file: string;
  /** sha256 of the file's text and the run options: a study is resumed only with the same hash. */
  hash: string;
  vary: string;
  kind: StudyKind;
  values: StudyValue[];
  started: string;
}

/** The state of a study, derived from its runs (a study has no status of its own to go stale). */
export type StudyState = RunState | 'incomplete';

/** A value of a study with the run that stands for it: its newest completed run, else its newest. */
export interface StudyValueRun extends StudyValue {
  runDir?: string;
  runId?: string;
  state?: RunState;
  message?: string;
  progress?: RunStatus['progress'];
  summary?: RunSummary;
}

/** A study as readers see it (core/node/runs/studies.ts `readStudy`): the Runs view, the study view, the report. */
export interface StudyInfo {
  dir: string;
  record: StudyRecord;
  state: StudyState;
  /** Values with a completed run. */
  done: number;
  message?: string;
  values: StudyValueRun[];
}

/** A value's run folder name starts with this, so a reader finds each value's runs. */
export function valueRunPrefix(index: number): string {
  return `value-${index}`;
}

export function checkStudyRecord(raw: unknown): Checked<StudyRecord> {
  if (!isRecord(raw) || raw.format !== 'aft-study' || raw.version !== 1)
    return { ok: false, error: 'expected {format: "aft-study", version: 1, ...}' };
  for (const k of ['studyId', 'experiment', 'file', 'hash', 'vary', 'started'] as const)
    if (typeof raw[k] !== 'string') return { ok: false, error: `expected "${k}" to be a string` };
  if (!STUDY_KINDS.includes(raw.kind as StudyKind))
    return { ok: false, error: `expected "kind" to be one of ${STUDY_KINDS.join(', ')}` };
  if (!Array.isArray(raw.values) || raw.values.length === 0) return { ok: false, error: 'expected a list of values' };
  for (const [i, v] of raw.values.entries()) {
    if (!isRecord(v) || v.index !== i || typeof v.label !== 'string' || (v.x !== undefined && typeof v.x !== 'number'))
      return { ok: false, error: `values[${i}]: expected {index: ${i}, label, value, x?}` };
  }
  return { ok: true, value: raw as unknown as StudyRecord };
}
