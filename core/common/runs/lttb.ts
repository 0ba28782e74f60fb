/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson, 2013): keeps the first and last
 * point and, from each of `threshold - 2` equal buckets, the point that spans the largest
 * triangle with its neighbours' picks, so peaks and the curve's shape survive. The host runs it
 * before sending series to a webview, the run store when it writes metrics.view.json, and the HTML
 * report before inlining them.
 */

/**
 * The indices LTTB keeps, ascending. Points whose x or y is not finite are skipped. Returns every
 * (finite) index when there are no more than `threshold` of them.
 */
export function lttbIndices(x: ArrayLike<number>, y: ArrayLike<number>, threshold: number): number[] {
  const n = Math.min(x.length, y.length);
  // The finite points, packed into typed arrays: the loops below then read one array type only
  // (this runs over every curve of a 50,000-step run when a dashboard opens).
  const finite = new Int32Array(n);
  const fx = new Float64Array(n);
  const fy = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    const yi = y[i];
    if (Number.isFinite(xi) && Number.isFinite(yi)) {
      finite[m] = i;
      fx[m] = xi;
      fy[m] = yi;
      m++;
    }
  }
  if (threshold >= m || m <= 2) return Array.from(finite.subarray(0, m));
  if (threshold < 3) return [finite[0], finite[m - 1]];

  const out: number[] = [finite[0]];
  const every = (m - 2) / (threshold - 2);
  let a = 0; // position (in the packed arrays) of the last point kept
  for (let b = 0; b < threshold - 2; b++) {
    // The average of the next bucket is the third corner of the triangle.
    const nextStart = Math.floor((b + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((b + 2) * every) + 1, m);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += fx[j];
      avgY += fy[j];
    }
    const count = nextEnd - nextStart;
    avgX /= count;
    avgY /= count;

    const start = Math.floor(b * every) + 1;
    const end = Math.floor((b + 1) * every) + 1;
    const ax = fx[a];
    const ay = fy[a];
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * (fy[j] - ay) - (ax - fx[j]) * (avgY - ay));
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
export function lttb(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  threshold: number,
): { step: number[]; value: number[] } {
  const idx = lttbIndices(x, y, threshold);
  const step = new Array<number>(idx.length);
  const value = new Array<number>(idx.length);
  for (let i = 0; i < idx.length; i++) {
    step[i] = x[idx[i]]!;
    value[i] = y[idx[i]]!;
  }
  return { step, value };
}
