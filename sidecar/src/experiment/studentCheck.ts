/**
 * The checks of an experiment's pretrained student that need the folder: config.json and the
 * safetensors header against the architecture and its input size against the weights
 * (core/node/students/experimentStudent.ts, which the language server runs too), and the memory
 * estimate against the backend. `aft validate`, `aft run` and the sidecar's `aft/validate` run
 * them through checkExperimentFile (load.ts), as problems at the experiment's fields; each
 * message names the student's file and field. The estimate is held against the run's backend
 * (`opts.backend`: a `--backend` override, else the file's) and left out for extraction.
 */
import type { SemanticProblem } from '../../../core/node/experiment/problem';
import type { Experiment } from '../../../core/node/experiment/schema';
import { resolveMethods } from '../../../core/node/experiment/methods';
import { asProblem, checkExperimentStudent } from '../../../core/node/students/experimentStudent';
import { checkHubFolder } from '../models/pretrained';
import { checkStudentMemory, type MemoryCheck } from '../memory/studentMemory';
import type { BackendChoice } from '../runtime/tf';

export interface StudentReport {
  problems: SemanticProblem[];
  /** The memory estimate of the run's largest job, when the folder could be read. */
  memory?: MemoryCheck;
}

export function checkStudent(
  exp: Experiment,
  baseDir: string,
  opts: { backend?: BackendChoice; memory?: boolean } = {},
): StudentReport {
  const folder = checkExperimentStudent(exp, baseDir, checkHubFolder);
  if (!folder.checked || opts.memory === false) return { problems: folder.problems };
  const { hub, size, channels } = folder.checked;
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
