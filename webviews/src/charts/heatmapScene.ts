/** The ρ heatmap as a scene (its SVG and PNG export; on screen it is drawn straight to a canvas). */
import { cellOrigin, type HeatmapLayout } from '../data/heatmapLayout';
import type { Prim, Scene } from './scene';
import { rampIndex, type Theme } from './theme';
import { fmt } from './ticks';

export const HEATMAP_PAD = 8;
export const COLORBAR_HEIGHT = 34;

/** Labels above each grid and a colour bar below the grids, in layout coordinates offset by the pad. */
export function heatmapDecorations(
  layout: HeatmapLayout,
  domain: [number, number],
  colors: string[],
  theme: Theme,
  title: string,
): Prim[] {
  const p = HEATMAP_PAD;
  const prims: Prim[] = [];
  for (const b of layout.blocks) {
    prims.push({
      k: 'text',
      x: p + b.x,
      y: p + b.y - 5,
      text: `${b.name} (${b.count}) mean ${fmt(b.mean)}`,
      fill: theme.foreground,
      size: 11,
      baseline: 'bottom',
    });
  }
  const y = p + layout.height + 10;
  const w = Math.min(240, Math.max(120, layout.width));
  const steps = 48;
  for (let i = 0; i < steps; i++)
    prims.push({
      k: 'rect',
      x: p + (i * w) / steps,
      y,
      w: w / steps + 0.5,
      h: 10,
      fill: colors[Math.round((i / (steps - 1)) * (colors.length - 1))],
    });
  prims.push({ k: 'text', x: p, y: y + 14, text: fmt(domain[0]), fill: theme.muted, size: 10, baseline: 'top' });
  prims.push({
    k: 'text',
    x: p + w,
    y: y + 14,
    text: fmt(domain[1]),
    fill: theme.muted,
    size: 10,
    baseline: 'top',
    anchor: 'end',
  });
  prims.push({ k: 'text', x: p + w + 8, y: y + 5, text: title, fill: theme.muted, size: 10, baseline: 'middle' });
  return prims;
}

export function heatmapScene(
  layout: HeatmapLayout,
  values: ArrayLike<number>,
  domain: [number, number],
  colors: string[],
  theme: Theme,
  title: string,
): Scene {
  const p = HEATMAP_PAD;
  const prims: Prim[] = [];
  for (const b of layout.blocks) {
    const inset = b.cell >= 4 ? 1 : 0;
    for (let i = 0; i < b.count; i++) {
      const o = cellOrigin(b, i);
      const v = values[b.offset + b.order[i]];
      prims.push({
        k: 'rect',
        x: p + o.x,
        y: p + o.y,
        w: b.cell - inset,
        h: b.cell - inset,
        fill: colors[rampIndex(v, domain[0], domain[1], colors.length)],
        title: `${b.name}[${b.order[i]}] = ${fmt(v, 4)}`,
      });
    }
  }
  prims.push(...heatmapDecorations(layout, domain, colors, theme, title));
  return {
    width: layout.width + 2 * p,
    height: layout.height + 2 * p + COLORBAR_HEIGHT,
    background: theme.background,
    font: theme.font,
    prims,
  };
}
