/**
 * How good each pre-trained source is for the task, the paper's measures: the test accuracy of
 * a linear probe (multinomial logistic regression, L2 chosen on a 10% holdout of the training
 * set) on each source and on their concatenation, and each source's LogME score. And the
 * paper's fig. 6a: logistic regression on each source's raw features, ψ as it is and ψ ⊙ ρ with
 * the ρ a method learned (the linear probe standardises every column, so it cannot tell them
 * apart).
 */
import type { Dataset } from '../data/dataset';
import { logme } from '../methods/logme';
import { linearProbe, rawLogisticProbe } from '../methods/probe';
import type { SourceSummary } from '../../../core/common/protocol/events';
import { describeError } from '../../../core/common/util/errors';
import type { FeatureBlock, PretrainedFeatures } from './features';

export interface SourceQuality {
  sources: SourceSummary[];
  /** Linear-probe test accuracy of all sources concatenated (undefined with fewer than 2). */
  concatProbe?: number;
  /** Raw-scale probe of all sources concatenated (undefined with fewer than 2). */
  rawConcatProbe?: number;
}

/** Fig. 6a for one learned ρ: the raw-scale probe of ψ ⊙ ρ per source, and of all of ψ ⊙ ρ. */
export interface RhoProbes {
  bySource: Record<string, number>;
  /** With 2 sources or more. */
  concat?: number;
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
      s.raw_probe_accuracy = await rawProbe(ds, b.train, b.test, b.width);
    } catch (e) {
      log(`logistic regression on the raw features of ${b.name} failed: ${describeError(e)}`, 'warn');
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
    const rawText =
      s.raw_probe_accuracy !== undefined ? `, raw-scale probe ${(s.raw_probe_accuracy * 100).toFixed(2)}%` : '';
    log(
      `source ${b.name} (${b.kind}, ${b.width} features): ${probeText}${rawText}${s.logme_score !== undefined ? `, LogME ${s.logme_score.toFixed(3)}` : ''}`,
    );
    sources.push(s);
  }
  let concatProbe: number | undefined;
  let rawConcatProbe: number | undefined;
  if (blocks.length > 1) {
    try {
      concatProbe = await probe(psi.train, psi.test, psi.width);
      log(`all sources concatenated (${psi.width} features): linear probe ${(concatProbe * 100).toFixed(2)}%`);
    } catch (e) {
      log(`linear probe of the concatenated sources failed: ${describeError(e)}`, 'warn');
    }
    try {
      rawConcatProbe = await rawProbe(ds, psi.train, psi.test, psi.width);
      log(`all sources concatenated: raw-scale probe ${(rawConcatProbe * 100).toFixed(2)}%`);
    } catch (e) {
      log(`logistic regression on the raw concatenated sources failed: ${describeError(e)}`, 'warn');
    }
  }
  return {
    sources,
    ...(concatProbe !== undefined ? { concatProbe } : {}),
    ...(rawConcatProbe !== undefined ? { rawConcatProbe } : {}),
  };
}

/** Test accuracy of logistic regression on raw features (`rawLogisticProbe`, C = 1). */
async function rawProbe(ds: Dataset, train: Float32Array, test: Float32Array, dim: number): Promise<number> {
  const r = await rawLogisticProbe(
    { features: train, labels: ds.train.y, rows: ds.train.n },
    { features: test, labels: ds.test.y, rows: ds.test.n },
    dim,
    { numClasses: ds.numClasses },
  );
  return r.testAccuracy;
}

/** Multiplies each row of a rows×width block by `weights` (ψ ⊙ ρ). */
function weighted(x: Float32Array, weights: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * weights[i % weights.length];
  return out;
}

/**
 * Fig. 6a for one learned ρ (over all of ψ): the test accuracy of logistic regression on each
 * source's raw features weighted by its slice of ρ, and, with several sources, on all of ψ ⊙ ρ
 * (where ρ can also rank the sources against each other). A probe that fails is left out (with
 * the reason logged), as the plain raw probe is.
 */
export function rhoWeightedProbes(
  blocks: FeatureBlock[],
  psi: Pick<PretrainedFeatures, 'train' | 'test' | 'width' | 'segments'>,
  ds: Dataset,
  log: (m: string, level?: 'info' | 'warn') => void,
): (rho: Float32Array) => Promise<RhoProbes> {
  return async (rho) => {
    const bySource: Record<string, number> = {};
    for (const b of blocks) {
      const seg = psi.segments.find((s) => s.name === b.name);
      if (!seg) continue;
      const r = rho.subarray(seg.offset, seg.offset + seg.width);
      try {
        bySource[b.name] = await rawProbe(ds, weighted(b.train, r), weighted(b.test, r), b.width);
      } catch (e) {
        log(`logistic regression on ψ ⊙ ρ of ${b.name} failed: ${describeError(e)}`, 'warn');
      }
    }
    let concat: number | undefined;
    if (blocks.length > 1) {
      try {
        concat = await rawProbe(ds, weighted(psi.train, rho), weighted(psi.test, rho), psi.width);
      } catch (e) {
        log(`logistic regression on ψ ⊙ ρ of the concatenated sources failed: ${describeError(e)}`, 'warn');
      }
    }
    return { bySource, ...(concat !== undefined ? { concat } : {}) };
  };
}
