/**
 * Studies in the run store (docs/run-store.md): `.aft/runs/<study id>/` holds `study.json`, the
 * experiment file's text, and each value's run folders under `runs/` (`value-<i>-<time>-<rand>`,
 * ordinary run folders). A study has no status of its own: it is complete when every value has a
 * completed run, so it can never say more than its runs do.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunSummary } from '../../common/protocol/events';
import {
  checkStudyRecord,
  valueRunPrefix,
  type StudyInfo,
  type StudyRecord,
  type StudyState,
  type StudyValueRun,
} from '../../common/runs/study';

export type { StudyInfo, StudyValueRun };
import { badInput } from '../../common/util/errors';
import { readUserJson } from '../io/userFile';
import { isTempName, removeQuietly, tempName, writeFileAtomic, writeJsonAtomic } from '../util/fsx';
import { readRunStatus, readSummary, removeStaleRunTemps, runFolderError, RUNS_DIR, timestampId } from './store';

export const STUDY_FILE = 'study.json';
/** The folder inside a study that holds its value runs. */
export const STUDY_RUNS = 'runs';

/** The hash that a resumed study must match: the file's text and the options that change what runs. */
export function studyHash(text: string, options: unknown): string {
  return createHash('sha256').update(JSON.stringify({ text, options })).digest('hex');
}

/**
 * Creates `<workspace>/.aft/runs/<name>-study-<time>-<rand>/` (`<name>-<time>-<rand>` when the
 * name ends with "study") with study.json and the file's
 * text, filled under a temporary name and renamed into place, so a study folder always has its
 * record.
 */
export function createStudy(
  workspaceDir: string,
  record: Omit<StudyRecord, 'format' | 'version' | 'studyId' | 'started'>,
  sourceText: string,
  /** A fixed id (a sharded study's, which every shard computes): a folder of that name made meanwhile by another process is read instead. */
  fixedId?: string,
): StudyInfo {
  const now = new Date();
  const studyId =
    fixedId ?? `${studyStem(record.experiment)}-${timestampId(now)}-${Math.random().toString(36).slice(2, 6)}`;
  const root = path.join(workspaceDir, RUNS_DIR);
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (e) {
    throw runFolderError(root, workspaceDir, e);
  }
  removeStaleRunTemps(root);
  const dir = path.join(root, studyId);
  const staging = tempName(dir);
  const full: StudyRecord = { format: 'aft-study', version: 1, studyId, ...record, started: now.toISOString() };
  try {
    fs.mkdirSync(path.join(staging, STUDY_RUNS), { recursive: true });
    writeJsonAtomic(path.join(staging, STUDY_FILE), full);
    writeFileAtomic(path.join(staging, 'experiment.source.yaml'), sourceText);
  } catch (e) {
    removeQuietly(staging);
    throw runFolderError(staging, workspaceDir, e);
  }
  try {
    fs.renameSync(staging, dir);
  } catch (e) {
    removeQuietly(staging);
    const code = (e as NodeJS.ErrnoException).code;
    if (fixedId === undefined || (code !== 'ENOTEMPTY' && code !== 'EEXIST'))
      throw runFolderError(dir, workspaceDir, e);
  }
  return readStudy(dir);
}

/** What a study's folder name starts with: `mnist-noise-study` stays itself, not `...-study-study`. */
export function studyStem(experiment: string): string {
  return /study$/i.test(experiment) ? experiment : `${experiment}-study`;
}

export function isStudyDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, STUDY_FILE));
}

/** A study folder read as a reader should see it: each value's run, and the state they make. */
export function readStudy(dir: string): StudyInfo {
  const file = path.join(dir, STUDY_FILE);
  const checked = checkStudyRecord(readUserJson(file, { what: 'study.json', maxBytes: 16 * 1024 * 1024 }));
  if (!checked.ok) throw badInput(`study.json is damaged: ${checked.error}`, { file });
  const record = checked.value;
  const runsDir = path.join(dir, STUDY_RUNS);
  let names: string[] = [];
  try {
    names = fs.readdirSync(runsDir).filter((n) => !isTempName(n));
  } catch {
    // no run yet
  }
  const values = record.values.map((v): StudyValueRun => {
    const prefix = `${valueRunPrefix(v.index)}-`;
    const runs = names
      .filter((n) => n.startsWith(prefix))
      .flatMap((n) => {
        const runDir = path.join(runsDir, n);
        try {
          return [{ runDir, status: readRunStatus(runDir) }];
        } catch {
          return [];
        }
      })
      .sort((a, b) => b.status.started.localeCompare(a.status.started));
    const pick = runs.find((r) => r.status.state === 'completed') ?? runs[0];
    if (!pick) return v;
    const s = pick.status;
    let summary: RunSummary | undefined;
    let problem: string | undefined;
    try {
      summary = s.state === 'completed' ? readSummary(pick.runDir) : undefined;
    } catch (e) {
      problem = (e as Error).message;
    }
    const message = [s.message, problem].filter(Boolean).join('; ');
    return {
      ...v,
      runDir: pick.runDir,
      runId: s.runId,
      state: s.state,
      ...(message ? { message } : {}),
      ...(s.progress && s.state === 'running' ? { progress: s.progress } : {}),
      ...(summary ? { summary } : {}),
    };
  });
  const done = values.filter((v) => v.state === 'completed' && v.summary).length;
  const running = values.some((v) => v.state === 'running');
  const state: StudyState = done === values.length ? 'completed' : running ? 'running' : 'incomplete';
  const failed = values.find((v) => v.state === 'failed' || v.state === 'cancelled');
  const message =
    state === 'incomplete'
      ? `${done} of ${values.length} values done${failed ? ` (value ${failed.label}: ${failed.state}${failed.message ? `: ${failed.message}` : ''})` : ''}; \`aft run\` on the same file continues it`
      : undefined;
  return { dir, record, state, done, values, ...(message ? { message } : {}) };
}

/** The studies of a workspace, newest first; a study whose study.json cannot be read is left out. */
export function listStudies(workspaceDir: string): StudyInfo[] {
  const root = path.join(workspaceDir, RUNS_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: StudyInfo[] = [];
  for (const name of names) {
    if (isTempName(name)) continue;
    const dir = path.join(root, name);
    if (!isStudyDir(dir)) continue;
    try {
      out.push(readStudy(dir));
    } catch {
      // a damaged study.json: not a study anyone can resume or report
    }
  }
  return out.sort((a, b) => b.record.started.localeCompare(a.record.started));
}

/** A study folder from a path or a study id, or undefined when `target` names none. */
export function findStudyDir(target: string, workspaceDir: string): string | undefined {
  return [path.resolve(target), path.join(workspaceDir, RUNS_DIR, target)].find(isStudyDir);
}
