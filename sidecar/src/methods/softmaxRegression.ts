/**
 * Multinomial logistic regression with an L2 penalty on the weights (not the intercepts), fitted
 * to convergence with full-batch L-BFGS:
 *
 *   f(W, b) = (1/N) Σ_i [logsumexp(x_i W + b) − (x_i W + b)_{y_i}] + (λ/2)‖W‖².
 *
 * Why L-BFGS rather than Adam or SGD: the problem is smooth and strongly convex, so a quasi-
 * Newton method reaches the unique optimum in tens of full-batch evaluations with no learning
 * rate or epoch count to tune, and the answer does not depend on a step size that would have to
 * change with λ and the data's scale.
 *
 * An evaluation is two products, Z = XW and ∇W = Xᵀ(softmax(Z) − Y)/N, run through tfjs (with
 * Xᵀ stored explicitly, the fast path on wasm); everything else (log-sum-exp, loss, penalty,
 * the optimiser's state) is float64. At 3,600×320 and 10 classes that measured ~11 ms per
 * evaluation on wasm against ~60 ms for the same two products as plain JS loops, which is
 * the difference between a probe that takes seconds and one that takes most of a minute.
 * The float32 products put noise of ~1e-7 relative on the loss, which is why the tolerances
 * below stop well above it.
 */
import { tf, type Tensor2D } from '../runtime/tf';
import { minimizeLbfgs, type LbfgsOptions, type LbfgsResult, type Objective } from './lbfgs';

export interface Design {
  /** Row-major rows×dim features (already standardised by the caller). */
  x: Float32Array;
  rows: number;
  dim: number;
  labels: Int32Array;
  numClasses: number;
}

/** Parameters are W (dim×K, row-major) followed by b (K). */
export const paramCount = (dim: number, k: number): number => (dim + 1) * k;

/** a·B for a tensor a and a row-major r×c array B, read back as an array. */
async function product(a: Tensor2D, b: Float32Array, r: number, c: number): Promise<Float32Array> {
  // Not a tf.tidy returning the array: tidy walks every element of what it returns.
  const bt = tf.tensor2d(b, [r, c]);
  const out = tf.matMul(a, bt);
  try {
    // Read asynchronously: the webgpu backend cannot read synchronously in Node.
    return (await out.data()) as Float32Array;
  } finally {
    tf.dispose([bt, out]);
  }
}

/** The objective over tensors X (N×D) and Xᵀ (D×N) that the caller owns. */
function objective({ rows, dim, labels, numClasses: k }: Design, x: Tensor2D, xt: Tensor2D, l2: number): Objective {
  const resid = new Float32Array(rows * k);
  return async (theta, grad) => {
    const z = await product(x, Float32Array.from(theta.subarray(0, dim * k)), dim, k);
    let f = 0;
    grad.fill(0);
    const gBias = grad.subarray(dim * k);
    for (let i = 0; i < rows; i++) {
      const o = i * k;
      let top = -Infinity;
      for (let c = 0; c < k; c++) top = Math.max(top, z[o + c] + theta[dim * k + c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(z[o + c] + theta[dim * k + c] - top);
      const logZ = top + Math.log(sum);
      const y = labels[i];
      f += logZ - z[o + y] - theta[dim * k + y];
      for (let c = 0; c < k; c++) {
        const r = (Math.exp(z[o + c] + theta[dim * k + c] - logZ) - (c === y ? 1 : 0)) / rows;
        resid[o + c] = r;
        gBias[c] += r;
      }
    }
    const gw = await product(xt, resid, rows, k);
    let penalty = 0;
    for (let j = 0; j < dim * k; j++) {
      penalty += theta[j] * theta[j];
      grad[j] = gw[j] + l2 * theta[j];
    }
    return f / rows + 0.5 * l2 * penalty;
  };
}

export async function fitSoftmax(
  d: Design,
  l2: number,
  init?: Float64Array,
  opts: LbfgsOptions = {},
): Promise<LbfgsResult> {
  const x0 = init ?? new Float64Array(paramCount(d.dim, d.numClasses));
  const x = tf.tensor2d(d.x, [d.rows, d.dim]);
  const xt = tf.transpose(x);
  try {
    return await minimizeLbfgs(objective(d, x, xt, l2), x0, { maxIter: 1000, gradTol: 1e-5, valueTol: 1e-9, ...opts });
  } finally {
    tf.dispose([x, xt]);
  }
}

/** Share of rows whose arg-max class is their label. */
export function accuracyOf(theta: Float64Array, d: Design): number {
  const { x, rows, dim, labels, numClasses: k } = d;
  let correct = 0;
  const z = new Float64Array(k);
  for (let i = 0; i < rows; i++) {
    z.set(theta.subarray(dim * k));
    for (let j = 0; j < dim; j++) {
      const xij = x[i * dim + j];
      for (let c = 0; c < k; c++) z[c] += xij * theta[j * k + c];
    }
    let best = 0;
    for (let c = 1; c < k; c++) if (z[c] > z[best]) best = c;
    if (best === labels[i]) correct++;
  }
  return rows ? correct / rows : NaN;
}
