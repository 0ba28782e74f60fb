/**
 * The checks of an experiment's pretrained student that need the folder: config.json and the
 * safetensors header against the architecture (models/pretrained.ts `checkHubFolder`, the very
 * checks `aft run` makes before training), its input size against the weights, and the memory
 * estimate against the backend. `aft validate`, `aft run` and the sidecar's `aft/validate` run
 * them through checkExperimentFile (load.ts), as problems at the experiment's fields; each
 * message names the student's file and field. The estimate is held against the run's backend
 * (`opts.backend`: a `--backend` override, else the file's) and left out for extraction.
 */
import * as path from 'node:path';
import { AftError } from '../../../core/common/util/errors';
import type { SemanticProblem } from '../../../core/node/experiment/problem';
import type { Experiment } from '../../../core/node/experiment/schema';
import { resolveMethods } from '../../../core/node/experiment/methods';
import { pathKind } from '../../../core/node/experiment/arrays';
import { timmImagePreprocess } from '../features/imagePreprocess';
import { checkHubFolder, checkStudentInput, type HubHeader } from '../models/pretrained';
import { checkStudentMemory, type MemoryCheck } from '../memory/studentMemory';
import type { BackendChoice } from '../runtime/tf';

export interface StudentReport {
  problems: SemanticProblem[];
  /** The memory estimate of the run's largest job, when the folder could be read. */
  memory?: MemoryCheck;
}

/** A bad-input error as a problem at `at` (or at the field it names in the experiment), its details kept. */
function asProblem(e: unknown, at: (string | number)[]): SemanticProblem {
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

export function checkStudent(
  exp: Experiment,
  baseDir: string,
  opts: { backend?: BackendChoice; memory?: boolean } = {},
): StudentReport {
  const d = exp.downstream;
  // A built-in student is built by the run; a missing folder is said by the file checks.
  if (d.model !== 'pretrained' || d.folder === undefined) return { problems: [] };
  const folder = path.resolve(baseDir, d.folder);
  if (pathKind(folder) !== 'folder') return { problems: [] };
  let hub: HubHeader;
  let size: [number, number];
  let channels: number;
  try {
    hub = checkHubFolder(folder);
    const input = hub.family.input(hub.shape);
    if (input.kind === 'tokens') {
      // A text student reads the dataset's max_length tokens (capped at its positions): the run
      // checks the dataset itself, once it is tokenised.
      if (exp.dataset.source !== 'text') return { problems: [] };
      size = [Math.min(exp.dataset.max_length, input.maxLength), 1];
      channels = 1;
    } else {
      const prep = timmImagePreprocess(hub.config.pretrained_cfg ?? {}, d.input_size, path.join(folder, 'config.json'));
      size = [prep.height, prep.width];
      channels = prep.channels;
      checkStudentInput(hub, d, [...size, channels], undefined);
    }
  } catch (e) {
    return { problems: [asProblem(e, ['downstream', 'folder'])] };
  }
  if (opts.memory === false) return { problems: [] };
  const memory = checkStudentMemory(
    {
      family: hub.family,
      shape: hub.shape,
      size,
      channels,
      train: exp.train,
      methods: resolveMethods(exp),
      psiWidth: 0,
    },
    opts.backend ?? exp.backend,
    { file: '<experiment>', field: 'train.batch' },
  );
  const problems: SemanticProblem[] = [];
  if (memory.refusal) problems.push(asProblem(memory.refusal, ['train', 'batch']));
  else if (memory.verdict.level === 'warn')
    problems.push({ path: ['train', 'batch'], message: memory.verdict.line, severity: 'warning' });
  return { problems, memory };
}
