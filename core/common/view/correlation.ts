/**
 * Pearson's r of paired values, with why there is none: the comparison's statistic (paper figure
 * 3), shared by `aft compare` and the comparison view. Pure (no Node, no DOM).
 */
export interface Correlation {
  /** null when it is undefined; `why` then says why. */
  r: number | null;
  /** Pairs used (both values finite). */
  n: number;
  why?: string;
}

export function correlate(xs: readonly number[], ys: readonly number[]): Correlation {
  const pairs: [number, number][] = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++)
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) pairs.push([xs[i], ys[i]]);
  const n = pairs.length;
  if (n < 3) return { r: null, n, why: `needs ≥ 3 runs with a linear probe, has ${n}` };
  const mx = pairs.reduce((s, p) => s + p[0], 0) / n;
  const my = pairs.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  // Equal values checked as such: their mean can differ from them by rounding, so the sums need not be 0.
  const constant = (i: 0 | 1): boolean => pairs.every((p) => p[i] === pairs[0][i]);
  if (constant(0) || sxx === 0) return { r: null, n, why: 'the linear probe is the same in every run' };
  // STL, say: it does not read the pre-trained features, so its accuracy does not move with them.
  if (constant(1) || syy === 0) return { r: null, n, why: 'the accuracy is the same in every run' };
  return { r: sxy / Math.sqrt(sxx * syy), n };
}
