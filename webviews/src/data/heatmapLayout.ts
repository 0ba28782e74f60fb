/**
 * Layout of the ρ heatmap: each pre-trained source segment is a near-square grid of its
 * features, one cell per feature, and the grids flow left to right, wrapping at the available
 * width. Optionally the cells of each grid are sorted by value (largest first), so a source's
 * distribution reads at a glance. Pure geometry, shared by the canvas renderer, the SVG export,
 * hit-testing for hover, and the tests.
 */
import type { Segment } from '../../../core/common/protocol/webview';

export interface HeatmapOptions {
  /** Width available, in CSS pixels. */
  width: number;
  sortByValue: boolean;
  /** Cell size bounds in CSS pixels. */
  minCell?: number;
  maxCell?: number;
  /** Widest a single grid may be (so a 256-feature source is not stretched over the screen). */
  maxBlockWidth?: number;
  /** Space between grids, and the height of the label above each. */
  gap?: number;
  labelHeight?: number;
}

export interface HeatmapBlock {
  name: string;
  /** Index of the segment's first feature in ρ. */
  offset: number;
  /** Number of features (cells). */
  count: number;
  cols: number;
  rows: number;
  /** Top-left of the grid (below its label), and the cell size, in CSS pixels. */
  x: number;
  y: number;
  cell: number;
  /** `order[p]` is the feature (0-based, within the segment) drawn at grid position p. */
  order: Uint32Array;
  /** Mean, min and max of the segment's values (NaN when it has none). */
  mean: number;
  min: number;
  max: number;
}

export interface HeatmapLayout {
  blocks: HeatmapBlock[];
  width: number;
  height: number;
  /** Total cells: one per pre-trained feature. */
  cells: number;
  labelHeight: number;
}

export interface HeatmapHit {
  block: HeatmapBlock;
  /** Feature index within the source segment (0-based). */
  feature: number;
  /** Index into ρ. */
  index: number;
  value: number;
}

export function layoutHeatmap(
  segments: readonly Segment[],
  values: ArrayLike<number>,
  opts: HeatmapOptions,
): HeatmapLayout {
  const gap = opts.gap ?? 16;
  const labelHeight = opts.labelHeight ?? 18;
  const minCell = opts.minCell ?? 2;
  const maxCell = opts.maxCell ?? 14;
  const width = Math.max(1, Math.floor(opts.width));
  const maxBlockWidth = Math.min(width, opts.maxBlockWidth ?? Math.max(240, Math.floor(width / 2) - gap));

  const blocks: HeatmapBlock[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const seg of segments) {
    const count = Math.max(0, seg.width);
    const cols = Math.max(1, Math.ceil(Math.sqrt(count)));
    const rows = Math.max(1, Math.ceil(count / cols));
    const cell = Math.max(minCell, Math.min(maxCell, Math.floor(maxBlockWidth / cols)));
    const w = cols * cell;
    const h = labelHeight + rows * cell;
    if (x > 0 && x + w > width) {
      x = 0;
      y += rowHeight + gap;
      rowHeight = 0;
    }
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    let sum = 0;
    let n = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < count; i++) {
      const v = values[seg.offset + i];
      if (!Number.isFinite(v)) continue;
      sum += v;
      n++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (opts.sortByValue) {
      // Largest first; non-finite values last, ties by feature index so the order is stable.
      const key = (i: number): number => {
        const v = values[seg.offset + i];
        return Number.isFinite(v) ? v : -Infinity;
      };
      order.sort((a, b) => key(b) - key(a) || a - b);
    }
    blocks.push({
      name: seg.name,
      offset: seg.offset,
      count,
      cols,
      rows,
      x,
      y: y + labelHeight,
      cell,
      order,
      mean: n ? sum / n : NaN,
      min: n ? min : NaN,
      max: n ? max : NaN,
    });
    x += w + gap;
    rowHeight = Math.max(rowHeight, h);
  }
  const usedWidth = blocks.reduce((m, b) => Math.max(m, b.x + b.cols * b.cell), 0);
  return {
    blocks,
    width: Math.max(usedWidth, 1),
    height: blocks.length ? y + rowHeight : 0,
    cells: blocks.reduce((s, b) => s + b.count, 0),
    labelHeight,
  };
}

/** The top-left corner of grid position `p` in a block. */
export function cellOrigin(block: HeatmapBlock, p: number): { x: number; y: number } {
  return { x: block.x + (p % block.cols) * block.cell, y: block.y + Math.floor(p / block.cols) * block.cell };
}

/** The feature under a point (CSS pixels in the layout's frame), if any. */
export function hitTest(
  layout: HeatmapLayout,
  px: number,
  py: number,
  values: ArrayLike<number>,
): HeatmapHit | undefined {
  for (const block of layout.blocks) {
    const col = Math.floor((px - block.x) / block.cell);
    const row = Math.floor((py - block.y) / block.cell);
    if (col < 0 || col >= block.cols || row < 0 || row >= block.rows) continue;
    const p = row * block.cols + col;
    if (p >= block.count) return undefined;
    const feature = block.order[p];
    const index = block.offset + feature;
    return { block, feature, index, value: values[index] };
  }
  return undefined;
}

/** The colour domain: [0, 1] when every value lies in it (ρ usually does), else the data's range. */
export function heatmapDomain(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [0, 1];
  if (lo >= 0 && hi <= 1) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  return [Math.min(lo, 0), hi];
}
