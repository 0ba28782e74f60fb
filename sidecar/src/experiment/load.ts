import * as path from 'node:path';
import { badInput } from '../../../core/common/util/errors';
import { diskFiles } from '../../../core/node/experiment/arrays';
import { refuse } from '../../../core/node/experiment/guards';
import type { Experiment } from '../../../core/node/experiment/schema';
import { validateExperimentText, type ExpandedStudy, type Problem } from '../../../core/node/experiment/validate';
import { MAX_EXPERIMENT_BYTES, readUserText } from '../../../core/node/io/userFile';
import type { MemoryCheck } from '../memory/studentMemory';
import type { BackendChoice } from '../runtime/tf';
import { checkStudent, type StudentReport } from './studentCheck';

export interface LoadedExperiment {
  experiment: Experiment;
  /** Absolute path of the file. */
  file: string;
  /** Folder that relative paths in the file are resolved against. */
  baseDir: string;
  /** The file's text as it was checked (kept in the run folder). */
  text: string;
  warnings: Problem[];
  /** The file's `study:`, every value checked (see validate.ts `ExpandedStudy`). */
  study?: ExpandedStudy;
}

export interface CheckedExperiment {
  file: string;
  baseDir: string;
  text: string;
  experiment?: Experiment;
  study?: ExpandedStudy;
  problems: Problem[];
  /** A pretrained student's memory estimate against the file's backend (studentCheck.ts). */
  memory?: MemoryCheck;
}

export function formatProblem(file: string, p: Problem): string {
  return `${file}:${p.line}:${p.column}: ${p.severity}: ${p.field}: ${p.message}`;
}

/**
 * The text of an experiment file: a regular file (not a folder, device or FIFO) of at most
 * 1 MB, in UTF-8. Anything else is a bad-input error naming the file.
 */
export function readExperimentFile(file: string): string {
  return readUserText(path.resolve(file), { what: 'experiment file', maxBytes: MAX_EXPERIMENT_BYTES });
}

/**
 * Reads and checks an experiment file as the editor does: the same guards before parsing, the
 * schema, the cross-field checks, and the headers of the arrays and ONNX models it names.
 * Throws only when the file cannot be read; problems in it come back as problems.
 */
/**
 * How the checks that need the student's folder see the run: the backend it will use (a
 * `--backend` override, else the file's) and whether its training memory matters (extraction
 * trains nothing).
 */
export interface CheckOptions {
  backend?: BackendChoice;
  memory?: boolean;
}

export function checkExperimentFile(file: string, opts: CheckOptions = {}): CheckedExperiment {
  const abs = path.resolve(file);
  const text = readExperimentFile(abs);
  const baseDir = path.dirname(abs);
  const refusal = refuse(text);
  if (refusal) {
    const before = text.slice(0, refusal.offset);
    const line = before.split('\n').length;
    const column = refusal.offset - before.lastIndexOf('\n');
    return {
      file: abs,
      baseDir,
      text,
      problems: [
        {
          message: refusal.message,
          field: '(file)',
          path: [],
          line,
          column,
          endLine: line,
          endColumn: column,
          severity: 'error',
        },
      ],
    };
  }
  // The student's folder is checked for the file and for each study value; the file's own report
  // (the first) carries the memory estimate that `aft validate` shows.
  let student: StudentReport | undefined;
  const { experiment, study, problems } = validateExperimentText(text, baseDir, diskFiles, (exp) => {
    const r = checkStudent(exp, baseDir, opts);
    student ??= r;
    return r.problems;
  });
  return {
    file: abs,
    baseDir,
    text,
    problems,
    ...(experiment ? { experiment } : {}),
    ...(study ? { study } : {}),
    ...(student?.memory ? { memory: student.memory } : {}),
  };
}

/** Reads and validates an experiment file; throws a bad-input error listing every problem. */
export function loadExperiment(file: string, opts: CheckOptions = {}): LoadedExperiment {
  const { file: abs, baseDir, text, experiment, study, problems } = checkExperimentFile(file, opts);
  const errors = problems.filter((p) => p.severity === 'error');
  if (!experiment || errors.length) {
    const first = errors[0];
    throw badInput(
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in the experiment file`,
      first ? { file: abs, line: first.line, column: first.column, field: first.field } : { file: abs },
      errors.map((p) => formatProblem(abs, p)),
    );
  }
  return { experiment, file: abs, baseDir, text, warnings: problems, ...(study ? { study } : {}) };
}

/** Parses experiment text (e.g. a built-in template) with paths relative to `baseDir`. */
export function experimentFromText(text: string, baseDir: string, label = '<experiment>'): Experiment {
  const { experiment, problems } = validateExperimentText(text, baseDir);
  if (!experiment)
    throw badInput(
      'invalid experiment',
      { file: label },
      problems.map((p) => formatProblem(label, p)),
    );
  return experiment;
}
