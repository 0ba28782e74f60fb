/**
 * How good each pre-trained source is for the task, the paper's measures: the test accuracy of
 * a linear probe (multinomial logistic regression, L2 chosen on a 10% holdout of the training
 * set) on each source and on their concatenation, and each source's LogME score.
 */
import type { Dataset } from '../data/dataset';
import { logme } from '../methods/logme';
import { linearProbe } from '../methods/probe';
import type { SourceSummary } from '../../../core/common/protocol/events';
import { describeError } from '../../../core/common/util/errors';
import type { FeatureBlock, PretrainedFeatures } from './features';

export interface SourceQuality {
  sources: SourceSummary[];
  /** Linear-probe test accuracy of all sources concatenated (undefined with fewer than 2). */
  concatProbe?: number;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function assessSources(
  blocks: FeatureBlock[],
  psi: PretrainedFeatures,
  ds: Dataset,
  holdout: number,
  splitSeed: number,
  log: (m: string, level?: 'info' | 'warn') => void,
): Promise<SourceQuality> {
  const probe = async (train: Float32Array, test: Float32Array, dim: number): Promise<number> =>
    (
      await linearProbe(
        { features: train, labels: ds.train.y, rows: ds.train.n },
        { features: test, labels: ds.test.y, rows: ds.test.n },
        dim,
        { holdoutFraction: holdout, splitSeed, numClasses: ds.numClasses },
      )
    ).testAccuracy;
  const sources: SourceSummary[] = [];
  for (const b of blocks) {
    const s: SourceSummary = { name: b.name, kind: b.kind, width: b.width };
    try {
      s.linear_probe_accuracy = await probe(b.train, b.test, b.width);
    } catch (e) {
      s.linear_probe_error = errorText(e);
      log(`linear probe of ${b.name} failed: ${describeError(e)}`, 'warn');
    }
    try {
      s.logme_score = logme(b.train, ds.train.y, ds.train.n, b.width, { numClasses: ds.numClasses }).score;
    } catch (e) {
      s.logme_error = errorText(e);
      log(`LogME of ${b.name} is not available: ${describeError(e)}`, 'warn');
    }
    const probeText =
      s.linear_probe_accuracy !== undefined
        ? `linear probe ${(s.linear_probe_accuracy * 100).toFixed(2)}%`
        : 'no linear probe';
    log(
      `source ${b.name} (${b.kind}, ${b.width} features): ${probeText}${s.logme_score !== undefined ? `, LogME ${s.logme_score.toFixed(3)}` : ''}`,
    );
    sources.push(s);
  }
  let concatProbe: number | undefined;
  if (blocks.length > 1) {
    try {
      concatProbe = await probe(psi.train, psi.test, psi.width);
      log(`all sources concatenated (${psi.width} features): linear probe ${(concatProbe * 100).toFixed(2)}%`);
    } catch (e) {
      log(`linear probe of the concatenated sources failed: ${describeError(e)}`, 'warn');
    }
  }
  return { sources, ...(concatProbe !== undefined ? { concatProbe } : {}) };
}
