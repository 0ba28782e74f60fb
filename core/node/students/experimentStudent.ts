/**
 * An experiment's pretrained student checked from its folder's headers, as problems at the
 * experiment's fields: config.json and the safetensors header against the architecture
 * (hubFolder.ts `checkHubFolder`, the very checks `aft run` makes before training) and the input
 * size against the weights. Each message names the student's file and field. `aft validate`,
 * `aft run` and the sidecar's `aft/validate` run it (sidecar/src/experiment/studentCheck.ts adds
 * the memory estimate); the language server runs it as the user types, its folder reads cached.
 */
import * as path from 'node:path';
import { AftError } from '../../common/util/errors';
import { pathKind } from '../experiment/arrays';
import type { SemanticProblem } from '../experiment/problem';
import type { Experiment } from '../experiment/schema';
import type { StudentSpec } from './family';
import { checkStudentInput, type HubHeader } from './hubFolder';
import { timmImagePreprocess } from './timmPreprocess';

/** The folder's check: `checkHubFolder` with the caller's families, cached or not. */
export type ReadStudentFolder<F extends StudentSpec> = (folder: string) => HubHeader<F>;

export interface StudentFolderCheck<F extends StudentSpec> {
  problems: SemanticProblem[];
  /** The folder and the input the run gives it, when the folder and input were found good. */
  checked?: { hub: HubHeader<F>; size: [number, number]; channels: number };
}

/** A bad-input error as a problem at `at` (or at the field it names in the experiment), its details kept. */
export function asProblem(e: unknown, at: (string | number)[]): SemanticProblem {
  if (!(e instanceof AftError) || e.code !== 'bad_input') throw e;
  const inExperiment = e.location?.file === '<experiment>' && e.location.field;
  const where = inExperiment ? e.location.field!.split('.') : at;
  // The student's file and field, and not the experiment's field again (the problem is at it).
  const loc = e.location;
  const field = loc?.field && loc.field !== at.join('.') ? `${loc.field}: ` : '';
  const text = inExperiment || !loc ? e.message : `${loc.file}: ${field}${e.message}`;
  const details = e.details?.length ? `: ${e.details.join('; ')}` : '';
  return { path: where, message: `${text}${details}` };
}

export function checkExperimentStudent<F extends StudentSpec>(
  exp: Experiment,
  baseDir: string,
  read: ReadStudentFolder<F>,
): StudentFolderCheck<F> {
  const d = exp.downstream;
  // A built-in student is built by the run; a missing folder is said by the file checks.
  if (d.model !== 'pretrained' || d.folder === undefined) return { problems: [] };
  const folder = path.resolve(baseDir, d.folder);
  if (pathKind(folder) !== 'folder') return { problems: [] };
  try {
    const hub = read(folder);
    const input = hub.family.input(hub.shape);
    if (input.kind === 'tokens') {
      // A text student reads the dataset's max_length tokens (capped at its positions): the run
      // checks the dataset itself, once it is tokenised.
      if (exp.dataset.source !== 'text') return { problems: [] };
      return {
        problems: [],
        checked: { hub, size: [Math.min(exp.dataset.max_length, input.maxLength), 1], channels: 1 },
      };
    }
    const prep = timmImagePreprocess(hub.config.pretrained_cfg ?? {}, d.input_size, path.join(folder, 'config.json'));
    const size: [number, number] = [prep.height, prep.width];
    checkStudentInput(hub, d, [...size, prep.channels], undefined);
    return { problems: [], checked: { hub, size, channels: prep.channels } };
  } catch (e) {
    return { problems: [asProblem(e, ['downstream', 'folder'])] };
  }
}
