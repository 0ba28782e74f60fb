/**
 * Limited-memory BFGS for smooth, deterministic objectives in float64 (Nocedal & Wright,
 * Algorithm 7.4, with a backtracking Armijo line search). Used by the linear probe, whose
 * objective is convex, so backtracking is enough and a Wolfe search would only add evaluations.
 */

/**
 * Returns f(x) and writes ∇f(x) into `grad`; may answer a promise (an objective computed on a
 * tfjs backend that reads results back asynchronously, such as webgpu).
 */
export type Objective = (x: Float64Array, grad: Float64Array) => number | Promise<number>;

export interface LbfgsOptions {
  maxIter?: number;
  /** Number of (s, y) pairs kept. */
  memory?: number;
  /** Stop when max |∇f| falls below this. */
  gradTol?: number;
  /** Stop when an iteration lowers f by less than this times max(1, |f|). */
  valueTol?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  evaluations: number;
  /** False when maxIter ran out or the line search could not make progress. */
  converged: boolean;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

const maxAbs = (a: Float64Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** d = −H∇f by the two-loop recursion over the stored pairs (oldest first). */
function direction(g: Float64Array, s: Float64Array[], y: Float64Array[]): Float64Array {
  const q = Float64Array.from(g);
  const alpha = new Float64Array(s.length);
  for (let i = s.length - 1; i >= 0; i--) {
    alpha[i] = dot(s[i], q) / dot(y[i], s[i]);
    for (let j = 0; j < q.length; j++) q[j] -= alpha[i] * y[i][j];
  }
  // Initial Hessian scaled by sᵀy / yᵀy of the newest pair, so a step of 1 is usually accepted.
  const gamma = s.length ? dot(s.at(-1)!, y.at(-1)!) / dot(y.at(-1)!, y.at(-1)!) : 1;
  for (let j = 0; j < q.length; j++) q[j] *= gamma;
  for (let i = 0; i < s.length; i++) {
    const beta = dot(y[i], q) / dot(y[i], s[i]);
    for (let j = 0; j < q.length; j++) q[j] += s[i][j] * (alpha[i] - beta);
  }
  for (let j = 0; j < q.length; j++) q[j] = -q[j];
  return q;
}

export async function minimizeLbfgs(f: Objective, x0: Float64Array, opts: LbfgsOptions = {}): Promise<LbfgsResult> {
  const { maxIter = 500, memory = 10, gradTol = 1e-6, valueTol = 1e-10 } = opts;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = await f(x, g);
  let evaluations = 1;
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  for (let iter = 0; iter < maxIter; iter++) {
    if (maxAbs(g) <= gradTol) return { x, value: fx, iterations: iter, evaluations, converged: true };
    let d = direction(g, s, y);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Round-off made the quasi-Newton direction useless: restart from steepest descent.
      s.length = 0;
      y.length = 0;
      d = g.map((v) => -v);
      slope = dot(g, d);
    }
    // The first step has no curvature information; keep its length at most 1.
    let t = s.length ? 1 : Math.min(1, 1 / Math.max(maxAbs(g), 1e-300));
    const xNew = new Float64Array(n);
    const gNew = new Float64Array(n);
    let fNew = Infinity;
    for (let tries = 0; ; tries++) {
      for (let j = 0; j < n; j++) xNew[j] = x[j] + t * d[j];
      fNew = await f(xNew, gNew);
      evaluations++;
      if (fNew <= fx + 1e-4 * t * slope) break;
      if (tries === 40) return { x, value: fx, iterations: iter, evaluations, converged: false };
      t *= 0.5;
    }
    const sk = xNew.map((v, j) => v - x[j]);
    const yk = gNew.map((v, j) => v - g[j]);
    // Keep only pairs with positive curvature, which keeps H positive definite.
    if (dot(sk, yk) > 1e-12 * dot(yk, yk)) {
      s.push(sk);
      y.push(yk);
      if (s.length > memory) {
        s.shift();
        y.shift();
      }
    }
    const decrease = fx - fNew;
    x = xNew;
    g = gNew;
    fx = fNew;
    if (decrease <= valueTol * Math.max(1, Math.abs(fx)))
      return { x, value: fx, iterations: iter + 1, evaluations, converged: true };
  }
  return { x, value: fx, iterations: maxIter, evaluations, converged: maxAbs(g) <= gradTol };
}
