/**
 * LogME (You et al., ICML 2021): how well features F (N×D) explain labels, as the maximised
 * evidence of a Bayesian linear regression from F to each class's one-hot target,
 *
 *   y_k = F m + ε,  m ~ N(0, α⁻¹ I_D),  ε ~ N(0, β⁻¹ I_N),
 *
 * with α, β set by the MacKay fixed-point updates. Everything is float64 JS arithmetic: the
 * evidence is a difference of large terms that float32 would not resolve.
 *
 * Compared with the reference implementation (github.com/thuml/LogME, `_fit_fixed_point`):
 * - It iterates until α/β stops changing (relative 1e-10) instead of for at most 11 steps, and
 *   reports the evidence and weights at the final (α, β) rather than mixing the last two
 *   iterates; on the golden cases the two agree to 5e-9 in the score and 6e-5 in the weights
 *   (relative), well inside the golden tolerances.
 * - The evidence sums log(α + βσ_i) over all D eigenvalues of FᵀF, zeros included. The reference
 *   sums over the k = rank(F) non-zero singular values only, which drops −(D−k)/2·log α when
 *   k < D (for instance N < D) and so overstates the evidence of wide, rank-deficient features.
 * - Degenerate input and non-convergence are errors (AftError `bad_input`), never NaN.
 * The 1e-5 added to the α and β denominators is kept: it is what the published scores (and
 * B-Tuning's targets built from them) use, and it keeps α, β finite for perfectly fitting or
 * uninformative features.
 */
import { badInput } from '../../../core/common/util/errors';
import { gramOfColumns, gramOfRows, symmetricEigen } from './linalg';

export interface LogMeOptions {
  /** Classes are 0..numClasses−1; default: the largest label + 1. */
  numClasses?: number;
  /** Relative change of α/β that ends the fixed-point iteration. */
  tol?: number;
  /** Iterations per class before giving up with an error. */
  maxIter?: number;
  /** Which Gram matrix to decompose: FᵀF (`columns`) or FFᵀ (`rows`); default the smaller. */
  basis?: 'columns' | 'rows';
}

export interface LogMeClassFit {
  alpha: number;
  beta: number;
  /** log p(y_k | F, α, β) / N at the returned α, β. */
  evidence: number;
  iterations: number;
}

export interface LogMeResult {
  /** Mean over classes of the per-example log evidence: the LogME score. */
  score: number;
  /** Posterior-mean weights, row-major K×D (row k predicts class k's one-hot column). */
  weights: Float64Array;
  numClasses: number;
  dim: number;
  /** Numerical rank of F. */
  rank: number;
  classes: LogMeClassFit[];
}

/** The 1e-5 of the reference implementation's α and β updates. */
const DENOM_EPS = 1e-5;

/**
 * The spectrum of FᵀF, shared by every class, with the basis its directions are held in. With
 * fewer examples than features (wide features: DINOv2, CLIP, a language model's hidden states)
 * it comes from FFᵀ instead, N×N rather than D×D: the non-zero eigenvalues are the same, and
 * FᵀF's eigenvector of σ is Fᵀu/√σ for FFᵀ's eigenvector u. At 1,000 × 2,048 that is a
 * decomposition of a 1,000-wide matrix instead of a 2,048-wide one (the work goes with the cube).
 */
interface Spectrum {
  /** All D eigenvalues of FᵀF, those below round-off set to exactly 0. */
  sigma: Float64Array;
  /**
   * `columns`: row i (D wide) is FᵀF's eigenvector of sigma[i]. `rows`: row i (N wide) is FFᵀ's
   * eigenvector u_i of sigma[i], for i < min(N, D); sigma[N..D) are zeros FFᵀ does not have.
   */
  basis: 'columns' | 'rows';
  vectors: Float64Array;
  rank: number;
}

/**
 * LogME score and weights of `features` (row-major rows×dim) for integer `labels`.
 * Throws `bad_input` for degenerate input: non-finite features, features that do not vary
 * across examples, non-integer or out-of-range labels, fewer than two classes, a class without
 * examples (which includes fewer examples than classes), or an iteration that does not converge.
 */
export function logme(
  features: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  dim: number,
  opts: LogMeOptions = {},
): LogMeResult {
  const k = validate(features, labels, rows, dim, opts.numClasses);
  const spectrum = decompose(features, rows, dim, opts.basis ?? (rows < dim ? 'rows' : 'columns'));
  const weights = new Float64Array(k * dim);
  const classes: LogMeClassFit[] = [];
  for (let c = 0; c < k; c++) {
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) y[i] = labels[i] === c ? 1 : 0;
    const fit = fitClass(features, y, rows, dim, spectrum, opts.tol ?? 1e-10, opts.maxIter ?? 1000, c);
    weights.set(fit.weights, c * dim);
    classes.push(fit.fit);
  }
  const score = classes.reduce((s, f) => s + f.evidence, 0) / k;
  return { score, weights, numClasses: k, dim, rank: spectrum.rank, classes };
}

function validate(
  features: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  dim: number,
  numClasses: number | undefined,
): number {
  if (!Number.isInteger(rows) || !Number.isInteger(dim) || rows < 1 || dim < 1)
    throw badInput(`LogME needs at least one example and one feature; got ${rows}×${dim}`);
  if (features.length !== rows * dim)
    throw badInput(`LogME: expected ${rows}×${dim} = ${rows * dim} feature values, got ${features.length}`);
  if (labels.length !== rows) throw badInput(`LogME: ${rows} examples but ${labels.length} labels`);
  let varies = false;
  for (let i = 0; i < features.length; i++) {
    const v = features[i];
    if (!Number.isFinite(v)) throw badInput(`LogME: feature ${i % dim} of example ${Math.floor(i / dim)} is ${v}`);
    if (!varies && i >= dim && v !== features[i % dim]) varies = true;
  }
  if (!varies)
    throw badInput(`LogME: every feature is constant across the ${rows} examples, so they cannot explain the labels`);
  let maxLabel = -1;
  for (let i = 0; i < rows; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0)
      throw badInput(`LogME: label of example ${i} is ${l}; labels must be integers 0..K−1`);
    maxLabel = Math.max(maxLabel, l);
  }
  const k = numClasses ?? maxLabel + 1;
  if (maxLabel >= k) throw badInput(`LogME: label ${maxLabel} is out of range for ${k} classes`);
  if (k < 2) throw badInput(`LogME needs at least two classes; the labels have ${k}`);
  if (rows < k) throw badInput(`LogME: ${rows} examples are fewer than the ${k} classes`);
  const counts = new Int32Array(k);
  for (let i = 0; i < rows; i++) counts[labels[i]]++;
  const empty = [...counts.keys()].filter((c) => counts[c] === 0);
  if (empty.length > 0)
    throw badInput(
      `LogME: class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')} ha${empty.length > 1 ? 've' : 's'} no examples`,
    );
  return k;
}

function decompose(features: ArrayLike<number>, rows: number, dim: number, basis: Spectrum['basis']): Spectrum {
  const n = basis === 'rows' ? rows : dim;
  const gram = basis === 'rows' ? gramOfRows(features, rows, dim) : gramOfColumns(features, rows, dim);
  const { values, vectors } = symmetricEigen(gram, n);
  // Eigenvalues are accurate to about eps·σ_max, so anything below that bound (including small
  // negative round-off) is an exact zero of the true spectrum, i.e. a direction F lacks.
  const top = Math.max(values[n - 1], 0);
  const cutoff = top * Math.max(rows, dim) * 2 ** -52;
  const keep = (v: number): number => (v > cutoff ? v : 0);
  const sigma = new Float64Array(dim);
  if (basis === 'columns') {
    for (let i = 0; i < dim; i++) sigma[i] = keep(values[i]);
    return { sigma, basis, vectors, rank: sigma.reduce((r, v) => r + (v > 0 ? 1 : 0), 0) };
  }
  // FFᵀ's largest min(N, D) eigenvalues, largest first, with their vectors in the same order.
  const m = Math.min(rows, dim);
  const ordered = new Float64Array(m * rows);
  for (let j = 0; j < m; j++) {
    sigma[j] = keep(values[rows - 1 - j]);
    ordered.set(vectors.subarray((rows - 1 - j) * rows, (rows - j) * rows), j * rows);
  }
  return { sigma, basis, vectors: ordered, rank: sigma.reduce((r, v) => r + (v > 0 ? 1 : 0), 0) };
}

/** Per-class sufficient statistics in the eigenbasis of FᵀF. */
interface Projection {
  /** z = Vᵀ Fᵀ y (zero along directions F lacks). */
  z: Float64Array;
  /** ‖y − F F⁺ y‖², the least-squares residual, computed directly rather than by cancellation. */
  lsResidual: number;
  /** For the `rows` basis: uᵢᵀy, with which the weights are built (m = Fᵀ Σ uᵢ uᵢᵀy / (σᵢ + λ)). */
  uy?: Float64Array;
}

function project(f: ArrayLike<number>, y: Float64Array, rows: number, dim: number, s: Spectrum): Projection {
  return s.basis === 'rows' ? projectRows(y, rows, dim, s) : projectColumns(f, y, rows, dim, s);
}

function projectColumns(f: ArrayLike<number>, y: Float64Array, rows: number, dim: number, s: Spectrum): Projection {
  const fty = new Float64Array(dim);
  for (let i = 0; i < rows; i++) {
    const yi = y[i];
    if (yi !== 0) for (let a = 0; a < dim; a++) fty[a] += f[i * dim + a] * yi;
  }
  const z = new Float64Array(dim);
  const lsCoef = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    if (s.sigma[j] === 0) continue;
    let t = 0;
    for (let a = 0; a < dim; a++) t += s.vectors[j * dim + a] * fty[a];
    z[j] = t;
    const scale = t / s.sigma[j];
    for (let a = 0; a < dim; a++) lsCoef[a] += s.vectors[j * dim + a] * scale;
  }
  let lsResidual = 0;
  for (let i = 0; i < rows; i++) {
    let p = 0;
    for (let a = 0; a < dim; a++) p += f[i * dim + a] * lsCoef[a];
    lsResidual += (y[i] - p) ** 2;
  }
  return { z, lsResidual };
}

/** vᵢᵀFᵀy = √σᵢ·uᵢᵀy; F F⁺ y is y's projection on the uᵢ of non-zero σᵢ. */
function projectRows(y: Float64Array, rows: number, dim: number, s: Spectrum): Projection {
  const z = new Float64Array(dim);
  const uy = new Float64Array(Math.min(rows, dim));
  const fit = new Float64Array(rows);
  for (let j = 0; j < Math.min(rows, dim); j++) {
    if (s.sigma[j] === 0) continue;
    const u = s.vectors.subarray(j * rows, (j + 1) * rows);
    let t = 0;
    for (let i = 0; i < rows; i++) t += u[i] * y[i];
    uy[j] = t;
    z[j] = Math.sqrt(s.sigma[j]) * t;
    for (let i = 0; i < rows; i++) fit[i] += u[i] * t;
  }
  let lsResidual = 0;
  for (let i = 0; i < rows; i++) lsResidual += (y[i] - fit[i]) ** 2;
  return { z, lsResidual, uy };
}

/** m = V diag(1/(λ + σ)) z, back in feature coordinates. */
function posteriorMean(
  f: ArrayLike<number>,
  rows: number,
  dim: number,
  s: Spectrum,
  p: Projection,
  lambda: number,
): Float64Array {
  const weights = new Float64Array(dim);
  if (s.basis === 'columns') {
    for (let j = 0; j < dim; j++) {
      if (p.z[j] === 0) continue;
      const c = p.z[j] / (lambda + s.sigma[j]);
      for (let a = 0; a < dim; a++) weights[a] += s.vectors[j * dim + a] * c;
    }
    return weights;
  }
  // m = Fᵀc with c = Σ uᵢ (uᵢᵀy)/(σᵢ + λ).
  const c = new Float64Array(rows);
  for (let j = 0; j < Math.min(rows, dim); j++) {
    if (!p.uy?.[j]) continue;
    const scale = p.uy[j] / (lambda + s.sigma[j]);
    for (let i = 0; i < rows; i++) c[i] += s.vectors[j * rows + i] * scale;
  }
  for (let i = 0; i < rows; i++) {
    const ci = c[i];
    if (ci !== 0) for (let a = 0; a < dim; a++) weights[a] += f[i * dim + a] * ci;
  }
  return weights;
}

/** γ (effective number of parameters), ‖m‖² and ‖y − Fm‖² at λ = α/β, with m = (FᵀF + λI)⁻¹Fᵀy. */
function statistics(s: Spectrum, p: Projection, lambda: number): { gamma: number; m2: number; res2: number } {
  let gamma = 0;
  let m2 = 0;
  // ‖y − Fm‖² = ‖y − FF⁺y‖² + Σ_i (z_i²/σ_i)·(λ/(λ+σ_i))²: each term is non-negative, so no
  // cancellation even when the fit is nearly perfect.
  let res2 = p.lsResidual;
  for (let i = 0; i < s.sigma.length; i++) {
    const sig = s.sigma[i];
    if (sig === 0) continue;
    const zi = p.z[i];
    const d = lambda + sig;
    gamma += sig / d;
    m2 += (zi * zi) / (d * d);
    res2 += ((zi * zi) / sig) * (lambda / d) ** 2;
  }
  return { gamma, m2, res2 };
}

/** log p(y | F, α, β) / N, with m the posterior mean at these α, β (see the module comment). */
function evidenceAt(s: Spectrum, p: Projection, rows: number, alpha: number, beta: number): number {
  const { m2, res2 } = statistics(s, p, alpha / beta);
  let logDetA = 0;
  for (const sig of s.sigma) logDetA += Math.log(alpha + beta * sig);
  const dim = s.sigma.length;
  const ev =
    (dim / 2) * Math.log(alpha) +
    (rows / 2) * Math.log(beta) -
    0.5 * logDetA -
    (beta / 2) * res2 -
    (alpha / 2) * m2 -
    (rows / 2) * Math.log(2 * Math.PI);
  return ev / rows;
}

function fitClass(
  f: ArrayLike<number>,
  y: Float64Array,
  rows: number,
  dim: number,
  s: Spectrum,
  tol: number,
  maxIter: number,
  cls: number,
): { fit: LogMeClassFit; weights: Float64Array } {
  const p = project(f, y, rows, dim, s);
  let alpha = 1;
  let beta = 1;
  let iterations = 0;
  for (;;) {
    if (iterations >= maxIter)
      throw badInput(
        `LogME: the evidence maximisation for class ${cls} did not converge in ${maxIter} iterations (α/β = ${alpha / beta})`,
      );
    iterations++;
    const lambda = alpha / beta;
    const { gamma, m2, res2 } = statistics(s, p, lambda);
    alpha = gamma / (m2 + DENOM_EPS);
    beta = (rows - gamma) / (res2 + DENOM_EPS);
    if (!(alpha > 0 && beta > 0 && Number.isFinite(alpha) && Number.isFinite(beta))) {
      throw badInput(
        `LogME: the evidence maximisation for class ${cls} left the valid range (α = ${alpha}, β = ${beta}); the features are degenerate for this label`,
      );
    }
    if (Math.abs(alpha / beta - lambda) <= tol * lambda) break;
  }
  const evidence = evidenceAt(s, p, rows, alpha, beta);
  if (!Number.isFinite(evidence))
    throw badInput(`LogME: the evidence of class ${cls} is not finite (α = ${alpha}, β = ${beta})`);
  return { fit: { alpha, beta, evidence, iterations }, weights: posteriorMean(f, rows, dim, s, p, alpha / beta) };
}
