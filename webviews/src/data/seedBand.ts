/**
 * The mean ± standard error of one method's curves across seeds, for the curves' "band" view.
 * Each seed's curve is downsampled on its own (LTTB keeps different steps per seed), so the seeds
 * are compared at the union of their steps, each one linearly interpolated between its own
 * points (never extrapolated: a step outside a seed's range has only the other seeds).
 */
import { lowerBound, type Curve } from './align';

export interface SeedBand {
  x: number[];
  mean: number[];
  /** mean − SE and mean + SE (the mean itself where only one seed has a value). */
  lo: number[];
  hi: number[];
  /** How many seeds have a value at each step. */
  n: number[];
}

/** A curve's value at `x` by linear interpolation between its finite points (NaN outside them). */
function valueAt(xs: readonly number[], ys: readonly number[], x: number): number {
  const j = lowerBound(xs, x);
  if (j < xs.length && xs[j] === x) return ys[j];
  if (j === 0 || j >= xs.length) return NaN;
  const t = (x - xs[j - 1]) / (xs[j] - xs[j - 1]);
  return ys[j - 1] + t * (ys[j] - ys[j - 1]);
}

export function seedBand(curves: readonly Curve[]): SeedBand {
  // Each curve's finite points, in step order.
  const clean = curves.map((c) => {
    const pts: [number, number][] = [];
    for (let i = 0; i < c.x.length; i++)
      if (Number.isFinite(c.x[i]) && Number.isFinite(c.y[i])) pts.push([c.x[i], c.y[i]]);
    pts.sort((a, b) => a[0] - b[0]);
    return { xs: pts.map((p) => p[0]), ys: pts.map((p) => p[1]) };
  });
  const x = [...new Set(clean.flatMap((c) => c.xs))].sort((a, b) => a - b);
  const out: SeedBand = { x, mean: [], lo: [], hi: [], n: [] };
  for (const step of x) {
    const vs = clean.map((c) => valueAt(c.xs, c.ys, step)).filter((v) => Number.isFinite(v));
    const n = vs.length;
    const mean = n ? vs.reduce((a, b) => a + b, 0) / n : NaN;
    const se = n > 1 ? Math.sqrt(vs.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) / n) : 0;
    out.mean.push(mean);
    out.lo.push(mean - se);
    out.hi.push(mean + se);
    out.n.push(n);
  }
  return out;
}
