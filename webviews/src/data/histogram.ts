/** Histograms of ρ values per source (fixed bins over a shared domain, so sources compare). */

export interface Histogram {
  lo: number;
  hi: number;
  counts: number[];
}

export function histogram(
  values: ArrayLike<number>,
  from: number,
  count: number,
  domain: [number, number],
  bins = 20,
): Histogram {
  const [lo, hi] = domain;
  const counts = new Array<number>(bins).fill(0);
  const span = hi - lo || 1;
  for (let i = from; i < from + count; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / span) * bins)));
    counts[b]++;
  }
  return { lo, hi, counts };
}
