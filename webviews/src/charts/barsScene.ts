/**
 * Test accuracy per method as bars with ±SE error bars and the per-seed values as dots (the
 * paper's figure 2). The y axis starts below the lowest value, not at zero, because the
 * differences between methods are a few points of accuracy; the axis is labelled with values.
 */
import { axes, makeFrame } from './frame';
import type { Prim, Scene } from './scene';
import type { Theme } from './theme';
import { niceTicks, pct } from './ticks';

export interface BarDatum {
  method: string;
  mean: number;
  se: number;
  perSeed: { seed: string; value: number }[];
  color: string;
  /** e.g. "β=10" */
  note?: string;
}

export function barsScene(
  bars: BarDatum[],
  theme: Theme,
  title = 'Test accuracy (mean ± SE over seeds)',
  width = 640,
  height = 340,
): Scene {
  const vals = bars
    .flatMap((b) => [b.mean - (b.se || 0), b.mean + (b.se || 0), ...b.perSeed.map((s) => s.value)])
    .filter(Number.isFinite);
  const vmin = vals.length ? Math.min(...vals) : 0;
  const vmax = vals.length ? Math.max(...vals) : 1;
  const span = Math.max(vmax - vmin, 0.01);
  const ticks = niceTicks(Math.max(0, vmin - span * 0.6), Math.min(1, vmax + span * 0.3), 5);
  const lo = Math.max(0, ticks[0] ?? 0);
  const hi = Math.max(Math.min(1, vmax + span * 0.3), lo + 0.01);
  const xAxis = { lo: -0.5, hi: bars.length - 0.5, categories: bars.map((b) => b.method), label: 'method' };
  const yAxis = { lo, hi, label: 'test accuracy', format: (v: number) => pct(v, 0) };
  const f = makeFrame(width, height, xAxis, yAxis);
  const prims: Prim[] = [
    { k: 'text', x: f.left, y: 14, text: title, fill: theme.foreground, size: 13, bold: true, baseline: 'middle' },
    ...axes(f, xAxis, yAxis, theme),
  ];
  const slot = (f.right - f.left) / Math.max(1, bars.length);
  const bw = Math.min(64, slot * 0.6);
  bars.forEach((b, i) => {
    const cx = f.sx(i);
    const top = f.sy(Math.max(lo, Math.min(hi, b.mean)));
    const detail = `${b.method}: ${pct(b.mean, 2)} ± ${pct(b.se, 2)}${b.note ? ` (${b.note})` : ''}; seeds ${b.perSeed.map((s) => `${s.seed}: ${pct(s.value, 2)}`).join(', ')}`;
    prims.push({
      k: 'rect',
      x: cx - bw / 2,
      y: top,
      w: bw,
      h: f.bottom - top,
      fill: b.color,
      title: detail,
      data: { bar: b.method },
    });
    if (Number.isFinite(b.se) && b.se > 0) {
      const y0 = f.sy(Math.max(lo, b.mean - b.se));
      const y1 = f.sy(Math.min(hi, b.mean + b.se));
      prims.push({ k: 'line', x1: cx, y1: y0, x2: cx, y2: y1, stroke: theme.foreground, width: 1.5 });
      prims.push({ k: 'line', x1: cx - 8, y1: y0, x2: cx + 8, y2: y0, stroke: theme.foreground, width: 1.5 });
      prims.push({ k: 'line', x1: cx - 8, y1: y1, x2: cx + 8, y2: y1, stroke: theme.foreground, width: 1.5 });
    }
    b.perSeed.forEach((s, j) => {
      if (!Number.isFinite(s.value)) return;
      const jitter = b.perSeed.length > 1 ? (j / (b.perSeed.length - 1) - 0.5) * bw * 0.5 : 0;
      prims.push({
        k: 'circle',
        cx: cx + jitter,
        cy: f.sy(Math.max(lo, Math.min(hi, s.value))),
        r: 3,
        fill: theme.background,
        stroke: theme.foreground,
        title: `${b.method} seed ${s.seed}: ${pct(s.value, 2)}`,
      });
    });
    // The label sits above the error bar and the highest seed, so nothing covers it.
    const highest = Math.max(
      b.mean + (Number.isFinite(b.se) ? b.se : 0),
      ...b.perSeed.map((s) => s.value).filter(Number.isFinite),
    );
    prims.push({
      k: 'text',
      x: cx,
      y: f.sy(Math.min(hi, highest)) - 6,
      text: pct(b.mean, 1),
      fill: theme.foreground,
      anchor: 'middle',
      baseline: 'bottom',
      size: 10,
    });
  });
  return { width, height, background: theme.background, font: theme.font, prims };
}
