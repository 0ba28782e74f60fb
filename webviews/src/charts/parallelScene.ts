/**
 * Parallel coordinates: one vertical axis per parameter and the chosen metric last, one line per
 * run through its values, coloured by the metric (the theme's ramp; the best runs drawn on top).
 * A numeric axis spans its values; a text axis spaces its distinct values evenly. A run without a
 * value on an axis has a gap there.
 */
import type { Prim, Scene } from './scene';
import { ramp, rampIndex, type Theme } from './theme';
import { fmt } from './ticks';

export interface ParallelAxis {
  label: string;
  /** One value per line (numbers, or text for categories); undefined is missing. */
  values: (number | string | undefined)[];
  format?: (v: number) => string;
}

export interface ParallelData {
  axes: ParallelAxis[];
  /** The metric (the last axis, and the colour); one per line. */
  metric: ParallelAxis;
  /** What each line is (a run id), for hover titles and exports. */
  names: string[];
}

interface Placed {
  /** Position 0 (bottom) .. 1 (top) of each line's value; NaN when missing. */
  pos: number[];
  ticks: { at: number; text: string }[];
}

function place(axis: ParallelAxis): Placed {
  const nums = axis.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const texts = axis.values.filter((v): v is string => typeof v === 'string');
  if (texts.length > nums.length) {
    const cats = [...new Set(texts)].sort();
    const at = new Map(cats.map((c, i) => [c, cats.length === 1 ? 0.5 : i / (cats.length - 1)]));
    const every = Math.max(1, Math.ceil(cats.length / 12));
    return {
      pos: axis.values.map((v) => (typeof v === 'string' ? at.get(v)! : NaN)),
      ticks: cats
        .filter((_, i) => i % every === 0)
        .map((c) => ({ at: at.get(c)!, text: c.length > 18 ? `${c.slice(0, 17)}…` : c })),
    };
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of nums) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!nums.length) return { pos: axis.values.map(() => NaN), ticks: [] };
  // Spread over three or more orders of magnitude (learning rates): a log axis.
  const log = lo > 0 && hi / lo >= 1000;
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const span = f(hi) - f(lo);
  const p = (v: number): number => (span === 0 ? 0.5 : (f(v) - f(lo)) / span);
  const format = axis.format ?? ((v: number) => fmt(v));
  const tickValues = span === 0 ? [lo] : [lo, log ? 10 ** ((f(lo) + f(hi)) / 2) : (lo + hi) / 2, hi];
  return {
    pos: axis.values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? p(v) : NaN)),
    ticks: tickValues.map((v) => ({ at: p(v), text: format(v) })),
  };
}

export function parallelScene(data: ParallelData, theme: Theme, width = 720, height = 380): Scene {
  const all = [...data.axes, data.metric];
  const left = 40;
  const right = width - 60;
  const top = 44;
  const bottom = height - 24;
  const x = (i: number): number =>
    all.length === 1 ? (left + right) / 2 : left + (i * (right - left)) / (all.length - 1);
  const y = (p: number): number => bottom - p * (bottom - top);
  const placed = all.map(place);
  const metricPos = placed[placed.length - 1].pos;
  const colors = ramp(theme, 64);
  const prims: Prim[] = [
    {
      k: 'text',
      x: left,
      y: 12,
      text: `Parameters against ${data.metric.label}`,
      fill: theme.foreground,
      size: 13,
      bold: true,
      baseline: 'middle',
    },
  ];
  // Worst first, so the best runs are drawn over the rest.
  const order = data.names.map((_, i) => i).sort((a, b) => (metricPos[a] || 0) - (metricPos[b] || 0));
  for (const i of order) {
    const points: number[] = [];
    placed.forEach((pl, a) => points.push(x(a), y(pl.pos[i])));
    prims.push({
      k: 'path',
      points,
      stroke: Number.isFinite(metricPos[i]) ? colors[rampIndex(metricPos[i], 0, 1, colors.length)] : theme.muted,
      width: 1,
      data: { run: data.names[i] },
    });
  }
  placed.forEach((pl, a) => {
    const ax = x(a);
    prims.push({ k: 'line', x1: ax, y1: top, x2: ax, y2: bottom, stroke: theme.foreground, width: 1 });
    prims.push({
      k: 'text',
      x: ax,
      y: top - 14,
      text: all[a].label,
      fill: theme.foreground,
      size: 11,
      anchor: a === 0 ? 'start' : a === all.length - 1 ? 'end' : 'middle',
      baseline: 'middle',
      bold: a === all.length - 1,
    });
    for (const t of pl.ticks) {
      prims.push({ k: 'line', x1: ax - 3, y1: y(t.at), x2: ax + 3, y2: y(t.at), stroke: theme.foreground });
      prims.push({ k: 'text', x: ax + 5, y: y(t.at), text: t.text, fill: theme.muted, size: 10, baseline: 'middle' });
    }
  });
  return { width, height, background: theme.background, font: theme.font, prims };
}
