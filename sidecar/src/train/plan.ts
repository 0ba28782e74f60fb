/**
 * The jobs of a run, in order: for each method, β tuning on the holdout (when its grid has more
 * than one value) and then the reported training of every seed on the full training set.
 */
import type { Experiment } from '../../../core/node/experiment/schema';
import { betaGrid, resolveMethods, type ResolvedMethod } from '../../../core/node/experiment/methods';
import { plannedSteps } from './job';
import { tuneSplit } from '../../../core/node/experiment/methodNeeds';

export interface PlannedJob {
  method: ResolvedMethod;
  seed: number;
  phase: 'tune' | 'final';
  /** β for tune jobs; for final jobs it is decided by the tune jobs before it. */
  beta?: number;
  steps: number;
}

/** The β-tuning split of `n` training examples (one definition, shared with the file checks). */
export const tuneTrainSize = tuneSplit;

export function planJobs(exp: Experiment, nTrain: number): PlannedJob[] {
  const jobs: PlannedJob[] = [];
  const full = plannedSteps(nTrain, exp.train.batch, exp.train.steps).total;
  const tuneN = tuneTrainSize(nTrain, exp.tune.holdout).train;
  const tuneSteps = plannedSteps(tuneN, exp.train.batch, exp.train.steps).total;
  for (const method of resolveMethods(exp)) {
    const grid = betaGrid(exp, method);
    exp.seeds.forEach((seed, i) => {
      if (grid.length > 1 && (exp.tune.seeds === 'all' || i === 0)) {
        for (const beta of grid) jobs.push({ method, seed, phase: 'tune', beta, steps: tuneSteps });
      }
      jobs.push({ method, seed, phase: 'final', ...(grid.length === 1 ? { beta: grid[0] } : {}), steps: full });
    });
  }
  return jobs;
}
