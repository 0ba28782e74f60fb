/**
 * The examples each phase of a run trains and evaluates on. β is chosen on a holdout, so that
 * the test split never picks a hyper-parameter: tune jobs train on the training set less a
 * fixed holdout (tune.holdout, split by tune.split_seed, the same for every β and seed) and are
 * scored on that holdout; final jobs train on the whole training set and are scored on test.
 */
import { takeRows, takeSplit, type Dataset, type Split } from '../data/dataset';
import type { Experiment } from '../../../core/node/experiment/schema';
import type { PretrainedFeatures } from '../features/features';
import { Rng } from '../util/rng';
import type { Examples } from './evaluate';
import type { JobSpec } from './job';
import { tuneTrainSize } from './plan';

/** The part of a job's spec that depends only on its phase. */
export type PhaseData = Pick<JobSpec, 'trainData' | 'psiTrain' | 'evalData' | 'dataKey'>;

/** Keyed by phase, so that a job finds its data as `data[job.phase]`. */
export interface RunData {
  tune: PhaseData;
  final: PhaseData;
  /** Examples held out to choose β. */
  holdout: number;
}

function examples(split: Split, ds: Dataset): Examples {
  return { ...split, inputShape: ds.inputShape };
}

export function phaseData(exp: Experiment, ds: Dataset, psi: Pick<PretrainedFeatures, 'width' | 'train'>): RunData {
  const width = ds.inputShape.reduce((a, b) => a * b, 1);
  const order = new Rng(exp.tune.split_seed).permutation(ds.train.n);
  const sizes = tuneTrainSize(ds.train.n, exp.tune.holdout);
  const holdIdx = order.subarray(0, sizes.holdout);
  const subIdx = order.subarray(sizes.holdout);
  return {
    // `dataKey` names the data that jobs may share method state over (SharedMethodState).
    tune: {
      trainData: examples(takeSplit(ds.train, width, subIdx), ds),
      evalData: examples(takeSplit(ds.train, width, holdIdx), ds),
      psiTrain: takeRows(psi.train, psi.width, subIdx),
      dataKey: 'tune',
    },
    final: {
      trainData: examples(ds.train, ds),
      evalData: examples(ds.test, ds),
      psiTrain: psi.train,
      dataKey: 'final',
    },
    holdout: sizes.holdout,
  };
}
