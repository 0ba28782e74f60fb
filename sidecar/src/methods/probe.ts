/**
 * Linear probe: how linearly decodable the labels are from a set of features. The L2 strength
 * is chosen on a seeded 10% holdout of the training rows, the model is refitted on all of them,
 * and only then does the test set appear, once, for the reported accuracy.
 *
 * Features are standardised with the statistics of the rows being fitted, so that one λ grid
 * suits features of any scale and the penalty treats every feature alike.
 */
import { badInput } from '../../../core/common/util/errors';
import { Rng } from '../util/rng';
import { accuracyOf, fitSoftmax, type Design } from './softmaxRegression';

export interface ProbeData {
  /** Row-major rows×dim. */
  features: ArrayLike<number>;
  labels: ArrayLike<number>;
  rows: number;
}

export interface ProbeOptions {
  /** Candidate λ (penalty (λ/2)‖W‖² on a mean cross-entropy). */
  l2Grid?: readonly number[];
  holdoutFraction?: number;
  /** Seed of the holdout split; fixed so that every probe in a comparison sees the same split. */
  splitSeed?: number;
  /** Default: the largest label in either set + 1. */
  numClasses?: number;
}

export interface ProbeResult {
  testAccuracy: number;
  /** The chosen λ. */
  l2: number;
  trainAccuracy: number;
  /** Holdout accuracy of every λ tried. */
  grid: { l2: number; holdoutAccuracy: number; iterations: number; converged: boolean }[];
  /** Whether the final fit met its tolerance (false means it hit the iteration cap). */
  converged: boolean;
  iterations: number;
}

export const DEFAULT_L2_GRID: readonly number[] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5];

function checkData(name: string, d: ProbeData, dim: number, what = 'linear probe'): void {
  if (d.features.length !== d.rows * dim)
    throw badInput(`${what}: the ${name} features have ${d.features.length} values, expected ${d.rows}×${dim}`);
  if (d.labels.length !== d.rows) throw badInput(`${what}: ${d.rows} ${name} rows but ${d.labels.length} labels`);
  for (let i = 0; i < d.features.length; i++) {
    if (!Number.isFinite(d.features[i]))
      throw badInput(`${what}: ${name} feature ${i % dim} of row ${Math.floor(i / dim)} is ${d.features[i]}`);
  }
  for (let i = 0; i < d.rows; i++) {
    const l = d.labels[i];
    if (!Number.isInteger(l) || l < 0)
      throw badInput(`${what}: ${name} label of row ${i} is ${l}; labels must be integers 0..K−1`);
  }
}

/** Standardises `rows` of `src` with the mean and standard deviation of `fitRows`. */
function standardiser(
  src: ArrayLike<number>,
  dim: number,
  fitRows: ArrayLike<number>,
): (rows: ArrayLike<number>, from?: ArrayLike<number>) => Float32Array {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let r = 0; r < fitRows.length; r++) for (let j = 0; j < dim; j++) mean[j] += src[fitRows[r] * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= fitRows.length;
  for (let r = 0; r < fitRows.length; r++)
    for (let j = 0; j < dim; j++) sq[j] += (src[fitRows[r] * dim + j] - mean[j]) ** 2;
  // A constant column carries nothing; dividing by its ~0 spread would only amplify round-off.
  const scale = sq.map((s) => 1 / (Math.sqrt(s / fitRows.length) || 1));
  return (rows, from = src) => {
    const out = new Float32Array(rows.length * dim);
    for (let r = 0; r < rows.length; r++)
      for (let j = 0; j < dim; j++) out[r * dim + j] = (from[rows[r] * dim + j] - mean[j]) * scale[j];
    return out;
  };
}

const range = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

function design(x: Float32Array, labels: ArrayLike<number>, rows: ArrayLike<number>, dim: number, k: number): Design {
  return { x, rows: rows.length, dim, labels: Int32Array.from(rows, (r) => labels[r]), numClasses: k };
}

/** The class count a probe uses: given, else the largest label in either set + 1 (checked). */
function classCount(train: ProbeData, test: ProbeData, numClasses: number | undefined, what: string): number {
  let maxLabel = 0;
  for (const d of [train, test]) for (let i = 0; i < d.rows; i++) maxLabel = Math.max(maxLabel, d.labels[i]);
  const k = numClasses ?? maxLabel + 1;
  if (maxLabel >= k) throw badInput(`${what}: label ${maxLabel} is out of range for ${k} classes`);
  return k;
}

/**
 * Fits a linear probe on `train` and reports its accuracy on `test`. λ candidates are fitted
 * from strongest to weakest, each warm-started from the previous solution; ties in holdout
 * accuracy go to the stronger penalty.
 */
export async function linearProbe(
  train: ProbeData,
  test: ProbeData,
  dim: number,
  opts: ProbeOptions = {},
): Promise<ProbeResult> {
  checkData('training', train, dim);
  checkData('test', test, dim);
  const grid = [...(opts.l2Grid ?? DEFAULT_L2_GRID)].sort((a, b) => b - a);
  if (grid.length === 0 || grid.some((l) => !(l >= 0)))
    throw badInput(`linear probe: the L2 grid must be non-empty and non-negative, got [${grid.join(', ')}]`);
  const k = classCount(train, test, opts.numClasses, 'linear probe');
  const nHold = Math.max(1, Math.round(train.rows * (opts.holdoutFraction ?? 0.1)));
  if (train.rows - nHold < 1)
    throw badInput(`linear probe: ${train.rows} training rows are too few to hold out a validation split`);

  const perm = new Rng(opts.splitSeed ?? 0).permutation(train.rows);
  const holdRows = perm.subarray(0, nHold);
  const fitRows = perm.subarray(nHold);
  const std = standardiser(train.features, dim, fitRows);
  const fitSet = design(std(fitRows), train.labels, fitRows, dim, k);
  const holdSet = design(std(holdRows), train.labels, holdRows, dim, k);

  const tried: ProbeResult['grid'] = [];
  let theta: Float64Array | undefined;
  let best = { l2: grid[0], acc: -1, theta: undefined as Float64Array | undefined };
  for (const l2 of grid) {
    const r = await fitSoftmax(fitSet, l2, theta);
    theta = r.x;
    const acc = accuracyOf(r.x, holdSet);
    tried.push({ l2, holdoutAccuracy: acc, iterations: r.iterations, converged: r.converged });
    if (acc > best.acc) best = { l2, acc, theta: r.x };
  }

  const all = range(train.rows);
  const stdAll = standardiser(train.features, dim, all);
  const full = design(stdAll(all), train.labels, all, dim, k);
  const final = await fitSoftmax(full, best.l2, best.theta);
  const testSet = design(stdAll(range(test.rows), test.features), test.labels, range(test.rows), dim, k);
  return {
    testAccuracy: accuracyOf(final.x, testSet),
    l2: best.l2,
    trainAccuracy: accuracyOf(final.x, full),
    grid: tried,
    converged: final.converged,
    iterations: final.iterations,
  };
}

export interface RawProbeOptions {
  /**
   * Inverse penalty strength in scikit-learn's convention: the objective is
   * C·Σ cross-entropy + ½‖W‖² (intercepts unpenalised), i.e. λ = 1/(C·N) on the mean.
   * Default 1, `LogisticRegression()`'s.
   */
  C?: number;
  /** Default: the largest label in either set + 1. */
  numClasses?: number;
  /** L-BFGS iterations at most: the fixed budget that keeps the probe's time bounded. */
  maxIter?: number;
}

export interface RawProbeResult {
  testAccuracy: number;
  trainAccuracy: number;
  /** Whether L-BFGS met its tolerance within the budget. */
  converged: boolean;
  iterations: number;
  /** W (dim×K, row-major) then b (K): the fitted model. */
  theta: Float64Array;
}

/**
 * Logistic regression on the features as they are (the paper's fig. 6a "accuracy achieved by
 * logistic regression"): no standardisation and one fixed penalty, fitted on every training row
 * with full-batch L-BFGS and evaluated once on the test set. Unlike `linearProbe`, it sees
 * feature scales: a feature scaled down costs a larger weight, which the penalty charges for,
 * so it weighs less. That is what makes probe(ψ ⊙ ρ) differ from probe(ψ), and what ρ is for.
 * The objective is strictly convex, so the answer is its unique optimum, whatever the solver.
 */
export async function rawLogisticProbe(
  train: ProbeData,
  test: ProbeData,
  dim: number,
  opts: RawProbeOptions = {},
): Promise<RawProbeResult> {
  const what = 'logistic regression on raw features';
  checkData('training', train, dim, what);
  checkData('test', test, dim, what);
  const C = opts.C ?? 1;
  if (!(C > 0) || !Number.isFinite(C)) throw badInput(`${what}: C must be a positive number, got ${C}`);
  if (train.rows < 1) throw badInput(`${what}: no training rows`);
  const k = classCount(train, test, opts.numClasses, what);
  const all = range(train.rows);
  const full = design(Float32Array.from(train.features), train.labels, all, dim, k);
  // Tighter than the standardised probe's tolerances: raw features may be badly scaled, and the
  // fit is checked against scikit-learn's optimum (test/golden logreg-*), not only its accuracy.
  const fit = await fitSoftmax(full, 1 / (C * train.rows), undefined, {
    maxIter: opts.maxIter ?? 500,
    gradTol: 1e-6,
    valueTol: 1e-12,
  });
  const testSet = design(Float32Array.from(test.features), test.labels, range(test.rows), dim, k);
  return {
    testAccuracy: accuracyOf(fit.x, testSet),
    trainAccuracy: accuracyOf(fit.x, full),
    converged: fit.converged,
    iterations: fit.iterations,
    theta: fit.x,
  };
}
