import * as fs from 'node:fs';
import * as path from 'node:path';
import { badInput } from '../../../core/common/util/errors';
import type { Experiment } from '../../../core/node/experiment/schema';
import { validateExperimentText, type Problem } from '../../../core/node/experiment/validate';

export interface LoadedExperiment {
  experiment: Experiment;
  /** Absolute path of the file. */
  file: string;
  /** Folder that relative paths in the file are resolved against. */
  baseDir: string;
  warnings: Problem[];
}

export function formatProblem(file: string, p: Problem): string {
  return `${file}:${p.line}:${p.column}: ${p.severity}: ${p.field}: ${p.message}`;
}

/** Reads and validates an experiment file; throws a bad-input error listing every problem. */
export function loadExperiment(file: string): LoadedExperiment {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw badInput(`cannot read experiment file: ${(e as Error).message}`, { file: abs });
  }
  const baseDir = path.dirname(abs);
  const { experiment, problems } = validateExperimentText(text, baseDir);
  const errors = problems.filter((p) => p.severity === 'error');
  if (!experiment || errors.length) {
    const first = errors[0];
    throw badInput(
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in the experiment file`,
      first ? { file: abs, line: first.line, column: first.column, field: first.field } : { file: abs },
      errors.map((p) => formatProblem(abs, p)),
    );
  }
  return { experiment, file: abs, baseDir, warnings: problems };
}

/** Parses experiment text (e.g. a built-in template) with paths relative to `baseDir`. */
export function experimentFromText(text: string, baseDir: string, label = '<experiment>'): Experiment {
  const { experiment, problems } = validateExperimentText(text, baseDir);
  if (!experiment) throw badInput('invalid experiment', { file: label }, problems.map((p) => formatProblem(label, p)));
  return experiment;
}
