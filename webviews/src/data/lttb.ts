/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson, 2013): keeps the first and last
 * point and, from each of `threshold - 2` equal buckets, the point that spans the largest
 * triangle with its neighbours' picks, so peaks and the curve's shape survive. The host runs it
 * before sending series to a webview; the HTML report runs it before inlining them.
 */

/**
 * The indices LTTB keeps, ascending. Points whose x or y is not finite are skipped. Returns every
 * (finite) index when there are no more than `threshold` of them.
 */
export function lttbIndices(x: ArrayLike<number>, y: ArrayLike<number>, threshold: number): number[] {
  const n = Math.min(x.length, y.length);
  const finite: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(x[i]) && Number.isFinite(y[i])) finite.push(i);
  const m = finite.length;
  if (threshold >= m || m <= 2) return finite;
  if (threshold < 3) return [finite[0], finite[m - 1]];

  const out: number[] = [finite[0]];
  const every = (m - 2) / (threshold - 2);
  let a = 0; // position (in `finite`) of the last point kept
  for (let b = 0; b < threshold - 2; b++) {
    // The average of the next bucket is the third corner of the triangle.
    const nextStart = Math.floor((b + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((b + 2) * every) + 1, m);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += x[finite[j]];
      avgY += y[finite[j]];
    }
    const count = nextEnd - nextStart;
    avgX /= count;
    avgY /= count;

    const start = Math.floor(b * every) + 1;
    const end = Math.floor((b + 1) * every) + 1;
    const ax = x[finite[a]];
    const ay = y[finite[a]];
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const px = x[finite[j]];
      const py = y[finite[j]];
      const area = Math.abs((ax - avgX) * (py - ay) - (ax - px) * (avgY - ay));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(finite[best]);
    a = best;
  }
  out.push(finite[m - 1]);
  return out;
}

/** `{step, value}` downsampled to at most `threshold` points. */
export function lttb(x: ArrayLike<number>, y: ArrayLike<number>, threshold: number): { step: number[]; value: number[] } {
  const idx = lttbIndices(x, y, threshold);
  const step = new Array<number>(idx.length);
  const value = new Array<number>(idx.length);
  for (let i = 0; i < idx.length; i++) {
    step[i] = x[idx[i]]!;
    value[i] = y[idx[i]]!;
  }
  return { step, value };
}
