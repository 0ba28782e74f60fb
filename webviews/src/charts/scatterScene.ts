/**
 * Each method's test accuracy against the linear-probe accuracy of the pre-trained features, one
 * point per run, with Pearson's r per method (the paper's figure 3).
 */
import { axes, extent, makeFrame } from './frame';
import type { Prim, Scene } from './scene';
import type { Theme } from './theme';
import { fmt, pct } from './ticks';

export interface ScatterPoint {
  method: string;
  run: string;
  x: number;
  y: number;
  se: number;
}

export interface ScatterMethod {
  method: string;
  color: string;
  r: number;
}

export function scatterScene(
  points: ScatterPoint[],
  methods: ScatterMethod[],
  theme: Theme,
  xLabel: string,
  width = 640,
  height = 380,
): Scene {
  const [x0, x1] = extent(
    points.map((p) => p.x),
    0.1,
  );
  const [y0, y1] = extent(
    points.flatMap((p) => [p.y - (p.se || 0), p.y + (p.se || 0)]),
    0.1,
  );
  const xAxis = { lo: x0, hi: x1, label: xLabel, format: (v: number) => pct(v, 0) };
  const yAxis = { lo: y0, hi: y1, label: 'test accuracy', format: (v: number) => pct(v, 0) };
  const legendRows = Math.ceil(methods.length / 3);
  const f = makeFrame(width, height, xAxis, yAxis, { left: 56, right: 16, top: 28, bottom: 44 + legendRows * 16 });
  const prims: Prim[] = [
    {
      k: 'text',
      x: f.left,
      y: 14,
      text: 'Test accuracy vs linear-probe accuracy',
      fill: theme.foreground,
      size: 13,
      bold: true,
      baseline: 'middle',
    },
    ...axes(f, xAxis, yAxis, theme),
  ];
  const color = new Map(methods.map((m) => [m.method, m.color]));
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    const c = color.get(p.method) ?? theme.foreground;
    const cx = f.sx(p.x);
    if (p.se > 0)
      prims.push({ k: 'line', x1: cx, y1: f.sy(p.y - p.se), x2: cx, y2: f.sy(p.y + p.se), stroke: c, width: 1 });
    prims.push({
      k: 'circle',
      cx,
      cy: f.sy(p.y),
      r: 4.5,
      fill: c,
      stroke: theme.background,
      title: `${p.method} in ${p.run}: ${pct(p.y, 2)} ± ${pct(p.se, 2)}; probe ${pct(p.x, 2)}`,
      data: { point: p.method },
    });
  }
  methods.forEach((m, i) => {
    const lx = f.left + (i % 3) * ((width - f.left) / 3);
    const ly = height - legendRows * 16 + Math.floor(i / 3) * 16 - 4;
    prims.push({ k: 'circle', cx: lx + 5, cy: ly, r: 4.5, fill: m.color });
    prims.push({
      k: 'text',
      x: lx + 14,
      y: ly,
      text: `${m.method}  r = ${Number.isFinite(m.r) ? fmt(m.r, 2) : 'n/a'}`,
      fill: theme.foreground,
      size: 11,
      baseline: 'middle',
    });
  });
  return { width, height, background: theme.background, font: theme.font, prims };
}
