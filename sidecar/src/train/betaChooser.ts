/**
 * Chooses β for the reported (final) jobs from the tune jobs before them. Each β of a method's
 * grid is trained on the training set less the holdout and scored on the holdout; the best
 * holdout accuracy wins and the final jobs retrain on the full training set with it. With
 * `tune.seeds: first` the first seed's choice serves every seed; with `all` each seed has its
 * own. The candidates and choices are kept because summary.json reports them (`tuning`).
 */
import type { Experiment } from '../../../core/node/experiment/schema';
import { betaGrid } from '../../../core/node/experiment/methods';
import type { MethodSummary } from '../../../core/common/protocol/events';
import type { PlannedJob } from './plan';

export type Tuning = MethodSummary['tuning'];

export class BetaChooser {
  /** The β chosen so far, by `method:seed`. */
  private readonly chosen = new Map<string, number>();
  private readonly tuning = new Map<string, Tuning>();

  constructor(private readonly exp: Pick<Experiment, 'beta' | 'seeds' | 'tune'>) {}

  /** The β a job trains with: its own (tune jobs, one-value grids), else the chosen one. */
  betaFor(job: PlannedJob): number {
    const tunedOn = this.exp.tune.seeds === 'all' ? job.seed : this.exp.seeds[0];
    return job.beta ?? this.chosen.get(`${job.method.name}:${tunedOn}`) ?? betaGrid(this.exp, job.method)[0];
  }

  /** Records a tune job's holdout accuracy and updates the choice for its method and seed. */
  record(job: PlannedJob, beta: number, holdoutAccuracy: number): void {
    const name = job.method.name;
    const list = this.tuning.get(name) ?? [];
    let entry = list.find((t) => t.seed === job.seed);
    if (!entry) list.push((entry = { seed: job.seed, candidates: [], chosen: beta }));
    entry.candidates.push({ beta, holdout_accuracy: holdoutAccuracy });
    // Best holdout accuracy wins; ties go to the earlier (grid-order) β.
    const best = entry.candidates.reduce((a, c) => (c.holdout_accuracy > a.holdout_accuracy ? c : a));
    entry.chosen = best.beta;
    this.chosen.set(`${name}:${job.seed}`, best.beta);
    this.tuning.set(name, list);
  }

  /** A method's candidates and choices, per tuned seed ([] when its β was not tuned). */
  tuningOf(method: string): Tuning {
    return this.tuning.get(method) ?? [];
  }
}

/**
 * A warning when the holdout is too small for the choice to mean much: one holdout example
 * more or less moves accuracy by 1/holdout, so below ~20 the choice is noise.
 */
export function coarseHoldoutWarning(
  jobs: PlannedJob[],
  holdout: number,
  exp: Pick<Experiment, 'tune'>,
  nTrain: number,
): string | undefined {
  const tuned = [...new Set(jobs.filter((j) => j.phase === 'tune').map((j) => j.method.name))];
  if (!tuned.length || holdout >= 20) return undefined;
  return `β is chosen for ${tuned.join(', ')} on a holdout of ${holdout} example${holdout === 1 ? '' : 's'} (tune.holdout ${exp.tune.holdout} of ${nTrain}): each one is ${(100 / holdout).toFixed(0)} points of accuracy, so the choice is coarse; give one β per method, or more training data`;
}
