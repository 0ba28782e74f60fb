/** A plot area with scales and axes, shared by the scene-drawn charts. */
import type { Prim } from './scene';
import type { Theme } from './theme';
import { fmt, logTicks, niceTicks } from './ticks';

export interface Axis {
  lo: number;
  hi: number;
  log?: boolean;
  label?: string;
  /** Category labels at 0..n-1 instead of numeric ticks. */
  categories?: string[];
  format?: (v: number) => string;
}

export interface Frame {
  left: number;
  top: number;
  right: number;
  bottom: number;
  sx(v: number): number;
  sy(v: number): number;
}

export const MARGIN = { left: 56, right: 16, top: 28, bottom: 44 };

function scale(lo: number, hi: number, a: number, b: number, log: boolean | undefined): (v: number) => number {
  if (log) {
    const l0 = Math.log10(lo);
    const l1 = Math.log10(hi);
    return (v) => (v > 0 ? a + ((Math.log10(v) - l0) / (l1 - l0 || 1)) * (b - a) : NaN);
  }
  return (v) => a + ((v - lo) / (hi - lo || 1)) * (b - a);
}

export function makeFrame(width: number, height: number, x: Axis, y: Axis, margin = MARGIN): Frame {
  const left = margin.left;
  const right = width - margin.right;
  const top = margin.top;
  const bottom = height - margin.bottom;
  return {
    left,
    top,
    right,
    bottom,
    sx: scale(x.lo, x.hi, left, right, x.log),
    sy: scale(y.lo, y.hi, bottom, top, y.log),
  };
}

/** Gridlines, ticks, tick labels and axis labels. */
export function axes(f: Frame, x: Axis, y: Axis, theme: Theme): Prim[] {
  const out: Prim[] = [];
  const yTicks = y.log ? logTicks(y.lo, y.hi) : niceTicks(y.lo, y.hi, 5);
  const yf = y.format ?? fmt;
  for (const v of yTicks) {
    const py = f.sy(v);
    out.push({ k: 'line', x1: f.left, y1: py, x2: f.right, y2: py, stroke: theme.grid });
    out.push({
      k: 'text',
      x: f.left - 6,
      y: py,
      text: yf(v),
      fill: theme.muted,
      anchor: 'end',
      baseline: 'middle',
      size: 10,
    });
  }
  if (x.categories) {
    x.categories.forEach((c, i) =>
      out.push({
        k: 'text',
        x: f.sx(i),
        y: f.bottom + 6,
        text: c,
        fill: theme.foreground,
        anchor: 'middle',
        baseline: 'top',
        size: 11,
      }),
    );
  } else {
    const xf = x.format ?? fmt;
    for (const v of x.log ? logTicks(x.lo, x.hi) : niceTicks(x.lo, x.hi, 6)) {
      const px = f.sx(v);
      out.push({ k: 'line', x1: px, y1: f.bottom, x2: px, y2: f.bottom + 4, stroke: theme.muted });
      out.push({
        k: 'text',
        x: px,
        y: f.bottom + 6,
        text: xf(v),
        fill: theme.muted,
        anchor: 'middle',
        baseline: 'top',
        size: 10,
      });
    }
  }
  out.push({ k: 'line', x1: f.left, y1: f.bottom, x2: f.right, y2: f.bottom, stroke: theme.muted });
  out.push({ k: 'line', x1: f.left, y1: f.top, x2: f.left, y2: f.bottom, stroke: theme.muted });
  if (x.label)
    out.push({
      k: 'text',
      x: (f.left + f.right) / 2,
      y: f.bottom + 24,
      text: x.label,
      fill: theme.foreground,
      anchor: 'middle',
      baseline: 'top',
      size: 11,
    });
  if (y.label)
    out.push({
      k: 'text',
      x: 14,
      y: (f.top + f.bottom) / 2,
      text: y.label,
      fill: theme.foreground,
      anchor: 'middle',
      baseline: 'middle',
      size: 11,
      rotate: -90,
    });
  return out;
}

/** The [lo, hi] of finite values, padded by `pad` of the span (a flat series gets ±0.5). */
export function extent(values: Iterable<number>, pad = 0.05, positiveOnly = false): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return positiveOnly ? [0.1, 1] : [0, 1];
  if (positiveOnly) return [lo, hi === lo ? lo * 10 : hi];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}
