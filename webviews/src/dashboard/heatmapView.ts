/**
 * The ρ heatmap: each source segment a grid of its features, drawn straight onto one canvas
 * (10,000 cells are 10,000 `fillRect`s, a few milliseconds), with hover showing source, feature
 * index and value, a sort-by-value option, and a histogram per source. Choices: one method and
 * seed, or a method's mean over its seeds.
 */
import type { RhoSnapshot, RunView } from '../../../core/common/protocol/webview';
import { heatmapDecorations, heatmapScene, HEATMAP_PAD, COLORBAR_HEIGHT } from '../charts/heatmapScene';
import { histogramScene } from '../charts/histogramScene';
import { drawScene } from '../charts/scene';
import { ramp, rampIndex, type Theme } from '../charts/theme';
import { fmt } from '../charts/ticks';
import { card, type Card } from '../common/chartCard';
import { checkbox, select } from '../common/controls';
import { clear, h, sceneElement } from '../common/dom';
import type { Host } from '../common/host';
import { toCsv } from '../../../core/common/view/csv';
import { cellOrigin, heatmapDomain, hitTest, layoutHeatmap, type HeatmapLayout } from '../data/heatmapLayout';
import { histogram } from '../data/histogram';

export interface HeatmapUi {
  /** `method/seed` or `method/mean`. */
  choice?: string;
  sort: boolean;
}

export const DEFAULT_HEATMAP_UI: HeatmapUi = { sort: false };

interface Shown {
  label: string;
  snapshot: RhoSnapshot;
}

/** The choices: every snapshot, and per method with several seeds of the same layout, their mean. */
export function heatmapChoices(rho: readonly RhoSnapshot[]): Map<string, Shown> {
  const out = new Map<string, Shown>();
  const byMethod = new Map<string, RhoSnapshot[]>();
  for (const r of [...rho].sort((a, b) => a.method.localeCompare(b.method) || a.seed - b.seed)) {
    byMethod.set(r.method, [...(byMethod.get(r.method) ?? []), r]);
  }
  for (const [method, snaps] of byMethod) {
    const first = snaps[0];
    const sameLayout = snaps.every(
      (s) => s.values.length === first.values.length && JSON.stringify(s.segments) === JSON.stringify(first.segments),
    );
    if (snaps.length > 1 && sameLayout) {
      const values = first.values.map((_, i) => snaps.reduce((a, s) => a + s.values[i], 0) / snaps.length);
      out.set(`${method}/mean`, {
        label: `${method} · mean of ${snaps.length} seeds`,
        snapshot: { method, seed: -1, segments: first.segments, values },
      });
    }
    for (const s of snaps)
      out.set(`${method}/${s.seed}`, {
        label: `${method} · seed ${s.seed}${s.step !== undefined ? ` (step ${s.step})` : ''}`,
        snapshot: s,
      });
  }
  return out;
}

export class HeatmapView {
  readonly root = h('div', { class: 'heatmap-view' });
  private readonly controls = h('div', { class: 'controls' });
  private readonly card: Card;
  private readonly canvas = h('canvas', { class: 'heatmap', 'aria-label': 'ρ heatmap' });
  private readonly tooltip = h('div', { class: 'tooltip', role: 'tooltip', hidden: true });
  private readonly histograms = h('div', { class: 'histograms' });
  private readonly empty = h(
    'p',
    { class: 'empty' },
    'No ρ yet: a method that learns ρ (AFT) writes rho/<method>/seed-<s>.json when it finishes a seed; until then the curves above show mean ρ per source.',
  );
  private run: RunView | undefined;
  private shown: Shown | undefined;
  private layout: HeatmapLayout | undefined;
  private lastWidth = 0;
  private controlsKey = '';
  private drawKey = '';
  private lastRho: readonly RhoSnapshot[] | undefined;
  private choices = new Map<string, Shown>();

  constructor(
    private readonly host: Host,
    private theme: Theme,
    private ui: HeatmapUi,
    private readonly onUi: (ui: HeatmapUi) => void,
  ) {
    this.card = card(
      host,
      'ρ per pre-trained feature',
      () =>
        `${this.run?.runId ?? 'run'}-rho-${this.shown?.snapshot.method ?? ''}-${this.shown && this.shown.snapshot.seed >= 0 ? `seed-${this.shown.snapshot.seed}` : 'mean'}`,
      { scene: () => this.scene(), csv: () => this.csv() },
      'chart-heatmap',
    );
    const frame = h('div', { class: 'heatmap-frame' }, this.canvas, this.tooltip);
    this.card.body.append(frame);
    this.root.append(this.controls, this.empty, this.card.root, this.histograms);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
    new ResizeObserver(() => {
      const w = this.width();
      if (Math.abs(w - this.lastWidth) > 4 && this.run) this.draw();
    }).observe(this.root);
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.drawKey = '';
    if (this.run) this.draw();
  }

  /**
   * `width`: the heatmap's width, read by the caller before its render changes the page: a read
   * after the changes forces a layout of the whole page (at every live update, ten a second).
   */
  render(run: RunView, width = this.width()): void {
    this.run = run;
    if (run.rho !== this.lastRho) {
      this.lastRho = run.rho;
      this.choices = heatmapChoices(run.rho);
    }
    const choices = this.choices;
    const key = [...choices.keys()].join();
    if (key !== this.controlsKey) {
      this.controlsKey = key;
      this.renderControls(choices);
    }
    const shown =
      (this.ui.choice !== undefined ? choices.get(this.ui.choice) : undefined) ?? choices.values().next().value;
    // Metrics updates arrive ten times a second; redraw only when the ρ shown or the view changed.
    const drawKey = `${shown?.label ?? ''}|${this.ui.sort}|${width}`;
    if (shown && this.shown && shown.snapshot.values === this.shown.snapshot.values && drawKey === this.drawKey) return;
    this.shown = shown;
    this.drawKey = drawKey;
    this.empty.hidden = this.shown !== undefined;
    this.card.root.hidden = this.shown === undefined;
    this.draw(width);
  }

  private setUi(patch: Partial<HeatmapUi>): void {
    this.ui = { ...this.ui, ...patch };
    this.onUi(this.ui);
    if (this.run) this.render(this.run);
  }

  private renderControls(choices: Map<string, Shown>): void {
    clear(this.controls);
    if (!choices.size) return;
    const current =
      this.ui.choice !== undefined && choices.has(this.ui.choice) ? this.ui.choice : choices.keys().next().value!;
    this.controls.append(
      h(
        'div',
        { class: 'control-group' },
        h('span', { class: 'control-label' }, 'ρ of'),
        select(
          [...choices].map(([value, s]) => ({ value, label: s.label })),
          current,
          (v) => this.setUi({ choice: v }),
          'Method and seed',
        ),
      ),
      h(
        'div',
        { class: 'control-group' },
        checkbox('sort by value', this.ui.sort, (on) => this.setUi({ sort: on }), 'sort'),
      ),
    );
  }

  width(): number {
    return Math.max(200, (this.root.clientWidth || document.body.clientWidth || 800) - 2 * HEATMAP_PAD - 24);
  }

  /** Draws the grids straight onto the canvas (the hot path for large ρ). */
  private draw(width = this.width()): void {
    const shown = this.shown;
    clear(this.histograms);
    if (!shown) {
      this.layout = undefined;
      return;
    }
    const t0 = performance.now();
    const { segments, values } = shown.snapshot;
    this.lastWidth = width;
    const layout = layoutHeatmap(segments, values, { width, sortByValue: this.ui.sort, maxCell: 18 });
    this.layout = layout;
    const domain = heatmapDomain(values);
    const colors = ramp(this.theme);
    const cssW = layout.width + 2 * HEATMAP_PAD;
    const cssH = layout.height + 2 * HEATMAP_PAD + COLORBAR_HEIGHT;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.ceil(cssW * dpr);
    this.canvas.height = Math.ceil(cssH * dpr);
    this.canvas.style.width = `${cssW}px`;
    this.canvas.style.height = `${cssH}px`;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = this.theme.background;
    ctx.fillRect(0, 0, cssW, cssH);
    let drawn = 0;
    for (const b of layout.blocks) {
      const inset = b.cell >= 4 ? 1 : 0;
      const size = b.cell - inset;
      let last = -1;
      for (let p = 0; p < b.count; p++) {
        const ci = rampIndex(values[b.offset + b.order[p]], domain[0], domain[1], colors.length);
        if (ci !== last) {
          ctx.fillStyle = colors[ci]!;
          last = ci;
        }
        const o = cellOrigin(b, p);
        ctx.fillRect(HEATMAP_PAD + o.x, HEATMAP_PAD + o.y, size, size);
        drawn++;
      }
    }
    drawScene(ctx, {
      width: 0,
      height: 0,
      background: 'transparent',
      font: this.theme.font,
      prims: heatmapDecorations(layout, domain, colors, this.theme, 'ρ'),
    });
    this.canvas.dataset.cells = String(drawn);
    this.canvas.dataset.features = String(values.length);
    this.canvas.dataset.sources = String(layout.blocks.length);
    this.canvas.dataset.drawMs = (performance.now() - t0).toFixed(1);

    for (const b of layout.blocks) {
      const hist = histogram(values, b.offset, b.count, domain);
      const c = card(this.host, `ρ histogram: ${b.name}`, () => `${this.run?.runId ?? 'run'}-rho-histogram-${b.name}`, {
        scene: () => histogramScene(b.name, hist, colors, this.theme),
        csv: () =>
          toCsv(
            ['source', 'bin_from', 'bin_to', 'features'],
            hist.counts.map((n, i) => [
              b.name,
              hist.lo + ((hist.hi - hist.lo) * i) / hist.counts.length,
              hist.lo + ((hist.hi - hist.lo) * (i + 1)) / hist.counts.length,
              n,
            ]),
          ),
      });
      c.root.classList.add('histogram-card');
      c.body.append(
        sceneElement(histogramScene(b.name, hist, colors, this.theme)),
        h('p', { class: 'caption' }, `mean ${fmt(b.mean)}, min ${fmt(b.min)}, max ${fmt(b.max)}`),
      );
      this.histograms.append(c.root);
    }
  }

  private hover(e: MouseEvent): void {
    if (!this.layout || !this.shown) return;
    const r = this.canvas.getBoundingClientRect();
    const hit = hitTest(
      this.layout,
      e.clientX - r.left - HEATMAP_PAD,
      e.clientY - r.top - HEATMAP_PAD,
      this.shown.snapshot.values,
    );
    if (!hit) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.textContent = `${hit.block.name} · feature ${hit.feature} (ρ index ${hit.index}) · ρ = ${fmt(hit.value, 4)}`;
    this.tooltip.hidden = false;
    this.tooltip.style.left = `${e.clientX - r.left + 12}px`;
    this.tooltip.style.top = `${e.clientY - r.top + 12}px`;
  }

  private scene() {
    if (!this.layout || !this.shown) return undefined;
    const values = this.shown.snapshot.values;
    return heatmapScene(
      this.layout,
      values,
      heatmapDomain(values),
      ramp(this.theme),
      this.theme,
      `ρ · ${this.shown.label}`,
    );
  }

  private csv(): string | undefined {
    if (!this.shown) return undefined;
    const { segments, values, method, seed } = this.shown.snapshot;
    const rows = segments.flatMap((s) =>
      Array.from(
        { length: s.width },
        (_, i) =>
          [method, seed >= 0 ? seed : 'mean', s.name, i, s.offset + i, values[s.offset + i]] as (string | number)[],
      ),
    );
    return toCsv(['method', 'seed', 'source', 'feature', 'index', 'rho'], rows);
  }
}
