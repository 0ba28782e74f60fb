/** A line chart as a scene: the PNG/SVG export of a curve chart (on screen, uPlot draws it). */
import { axes, extent, makeFrame } from './frame';
import type { Prim, Scene } from './scene';
import type { Theme } from './theme';

export interface LineSeries {
  label: string;
  color: string;
  dash: number[];
  x: number[];
  y: number[];
  /** Not in the legend (the faint raw curve under a smoothed one, the edges of a seed band). */
  noLegend?: boolean;
  /** ± this at each point (a study's SE over seeds): drawn as error bars, with a marker per point. */
  err?: number[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  /** A log y axis (and `logX` a log x axis: steps). */
  log: boolean;
  logX?: boolean;
  series: LineSeries[];
  /** Category labels at x = 0..n-1 instead of a numeric x axis (a study's values, evenly spaced). */
  categories?: string[];
  /** How y ticks read (default: plain numbers). */
  yFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

export function lineScene(spec: LineChartSpec, theme: Theme): Scene {
  const width = spec.width ?? 720;
  const legend = spec.series.filter((s) => !s.noLegend);
  const legendRows = Math.ceil(legend.length / 4);
  const height = (spec.height ?? 360) + legendRows * 16;
  const [x0, x1] = extent(
    spec.series.flatMap((s) => s.x),
    0,
    spec.logX,
  );
  const [y0, y1] = extent(
    spec.series.flatMap((s) => (s.err ? s.y.flatMap((y, i) => [y - (s.err?.[i] ?? 0), y + (s.err?.[i] ?? 0)]) : s.y)),
    spec.log ? 0 : 0.05,
    spec.log,
  );
  const xAxis = spec.categories
    ? { lo: -0.3, hi: Math.max(spec.categories.length - 1, 0) + 0.3, categories: spec.categories, label: spec.xLabel }
    : { lo: x0, hi: x1, log: spec.logX, label: spec.xLabel };
  const yAxis = {
    lo: y0,
    hi: y1,
    log: spec.log,
    label: spec.yLabel,
    ...(spec.yFormat ? { format: spec.yFormat } : {}),
  };
  const f = makeFrame(width, height, xAxis, yAxis, { left: 56, right: 16, top: 28, bottom: 44 + legendRows * 16 });
  const prims: Prim[] = [
    { k: 'text', x: f.left, y: 16, text: spec.title, fill: theme.foreground, size: 13, bold: true, baseline: 'middle' },
    ...axes(f, xAxis, yAxis, theme),
  ];
  for (const s of spec.series) {
    const points: number[] = [];
    for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i];
      const x = s.x[i];
      points.push(spec.logX && !(x > 0) ? NaN : f.sx(x), spec.log && !(y > 0) ? NaN : f.sy(y));
    }
    prims.push({ k: 'path', points, stroke: s.color, dash: s.dash, data: { series: s.label } });
    if (!s.err) continue;
    for (let i = 0; i < s.x.length; i++) {
      const [x, y, e] = [f.sx(s.x[i]), s.y[i], s.err[i] ?? 0];
      if (!Number.isFinite(y)) continue;
      if (e > 0) prims.push({ k: 'line', x1: x, y1: f.sy(y - e), x2: x, y2: f.sy(y + e), stroke: s.color, width: 1.5 });
      prims.push({
        k: 'circle',
        cx: x,
        cy: f.sy(y),
        r: 3,
        fill: s.color,
        stroke: s.color,
        title: `${s.label}: ${y} ± ${e}`,
      });
    }
  }
  legend.forEach((s, i) => {
    const lx = f.left + (i % 4) * ((width - f.left) / 4);
    const ly = height - legendRows * 16 + Math.floor(i / 4) * 16 - 4;
    prims.push({ k: 'line', x1: lx, y1: ly, x2: lx + 18, y2: ly, stroke: s.color, width: 2, dash: s.dash });
    prims.push({ k: 'text', x: lx + 22, y: ly, text: s.label, fill: theme.foreground, size: 10, baseline: 'middle' });
  });
  return { width, height, background: theme.background, font: theme.font, prims };
}
