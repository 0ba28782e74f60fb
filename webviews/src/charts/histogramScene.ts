/** A source's ρ histogram (bars coloured by the heatmap's ramp, so the two read together). */
import type { Histogram } from '../data/histogram';
import { axes, makeFrame } from './frame';
import type { Prim, Scene } from './scene';
import { rampIndex, type Theme } from './theme';
import { fmt } from './ticks';

export function histogramScene(
  title: string,
  h: Histogram,
  colors: string[],
  theme: Theme,
  width = 260,
  height = 150,
): Scene {
  const max = Math.max(1, ...h.counts);
  const xAxis = { lo: h.lo, hi: h.hi, label: 'ρ' };
  const yAxis = { lo: 0, hi: max, label: 'features', format: (v: number) => (Number.isInteger(v) ? String(v) : '') };
  const f = makeFrame(width, height, xAxis, yAxis, { left: 44, right: 8, top: 22, bottom: 36 });
  const prims: Prim[] = [
    { k: 'text', x: f.left, y: 10, text: title, fill: theme.foreground, size: 12, bold: true, baseline: 'middle' },
    ...axes(f, xAxis, yAxis, theme),
  ];
  const bw = (h.hi - h.lo) / h.counts.length;
  h.counts.forEach((c, i) => {
    if (!c) return;
    const a = h.lo + i * bw;
    const x0 = f.sx(a);
    const x1 = f.sx(a + bw);
    const y = f.sy(c);
    prims.push({
      k: 'rect',
      x: x0 + 0.5,
      y,
      w: Math.max(1, x1 - x0 - 1),
      h: f.bottom - y,
      fill: colors[rampIndex(a + bw / 2, h.lo, h.hi, colors.length)],
      title: `${fmt(a)} to ${fmt(a + bw)}: ${c} features`,
      data: { bin: String(i) },
    });
  });
  return { width, height, background: theme.background, font: theme.font, prims };
}
