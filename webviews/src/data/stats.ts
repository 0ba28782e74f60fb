/** Small statistics for the charts: EMA smoothing and Pearson correlation. */
import { correlate } from '../../../core/common/view/correlation';

/**
 * Exponential moving average with bias correction (as TensorBoard smooths), skipping gaps:
 * `weight` 0 returns the values unchanged, 0.99 smooths heavily.
 */
export function smoothEma(values: readonly number[], weight: number): number[] {
  if (weight <= 0) return values.slice();
  const out = new Array<number>(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

/** Pearson's r of paired finite values; NaN with fewer than 3 pairs or no variance. */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  return correlate(xs, ys).r ?? NaN;
}
