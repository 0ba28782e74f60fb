/**
 * Live training curves, one uPlot chart per metric (and one for mean ρ per source), with
 * series toggles, log scale and smoothing. uPlot draws thousands of points per series on a
 * canvas in a few milliseconds; updates replace a chart's data in place (`setData`) and only
 * rebuild a chart when its set of series changes.
 */
import uPlot from 'uplot';
import { needsFinerPoints, pointsAcross } from '../../../core/common/runs/curveViews';
import { METRICS, type MetricName, type RunView, type SeriesData } from '../../../core/common/protocol/webview';
import { lineScene, type LineSeries } from '../charts/lineScene';
import { fade, type Theme } from '../charts/theme';
import { fmt } from '../charts/ticks';
import { card, type Card } from '../common/chartCard';
import { checkbox, select } from '../common/controls';
import { clear, h } from '../common/dom';
import type { Host } from '../common/host';
import { alignCurves } from '../data/align';
import { toCsv } from '../../../core/common/view/csv';
import { seedBand } from '../data/seedBand';
import { smoothEma } from '../data/stats';
import { methodColors, seedDash, seriesLabel } from './seriesStyle';

export interface CurvesUi {
  hiddenMethods: string[];
  hiddenSeeds: number[];
  showTune: boolean;
  /** A log y axis. */
  log: boolean;
  /** A log x axis (steps). */
  logX: boolean;
  smoothing: number;
  /** With smoothing, the raw curve drawn faintly under the smoothed one. */
  raw: boolean;
  /** One line per seed, or each method's mean across seeds with a ± SE band. */
  seedView: 'each' | 'band';
}

export const DEFAULT_CURVES_UI: CurvesUi = {
  hiddenMethods: [],
  hiddenSeeds: [],
  showTune: false,
  log: false,
  logX: false,
  smoothing: 0,
  raw: true,
  seedView: 'each',
};

/** How faint the raw curve under a smoothed one, and a seed band's fill and edges, are drawn. */
const RAW_ALPHA = 0.3;
const BAND_ALPHA = 0.18;

const TITLES: Record<MetricName | 'rho', string> = {
  loss: 'Total loss',
  ce: 'Cross-entropy',
  reg: 'Regulariser',
  trainAccuracy: 'Train accuracy',
  evalAccuracy: 'Test accuracy (holdout while tuning β)',
  rho: 'Mean ρ per source',
};

const SMOOTHING = [0, 0.6, 0.8, 0.9, 0.95, 0.99];

/** One line on a chart: which series and curve, and how it looks. */
interface Line {
  key: string;
  label: string;
  color: string;
  dash: number[];
  series: SeriesData;
  curve: string;
}

/** What a chart draws: a line, the faint raw curve under it, or a seed band's mean and edges. */
interface Plotted extends LineSeries {
  key: string;
}

interface Chart {
  metric: MetricName | 'rho';
  card: Card;
  plot?: uPlot;
  keys: string;
  lines: Line[];
  plotted: Plotted[];
}

export class CurvesView {
  readonly root = h('div', { class: 'curves' });
  private readonly controls = h('div', { class: 'controls' });
  private readonly grid = h('div', { class: 'chart-grid' });
  private readonly charts = new Map<MetricName | 'rho', Chart>();
  private run: RunView | undefined;
  /** The most points per curve asked of the host (in `ready`, or after a resize). */
  private askedPoints = 0;
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    private readonly host: Host,
    private theme: Theme,
    private ui: CurvesUi,
    private readonly onUi: (ui: CurvesUi) => void,
  ) {
    this.root.append(this.controls, this.grid);
    this.resize.observe(this.grid);
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    for (const c of this.charts.values()) {
      c.plot?.destroy();
      c.plot = undefined;
      c.keys = '';
    }
    if (this.run) this.render(this.run);
  }

  /**
   * Draws the run; cheap when only data changed. `width`: the charts' width, read by the caller
   * before its render changes the page (reading it after forces a layout of the page). `charts`:
   * which of them, by position (all by default; the first render draws them in two frames).
   */
  render(run: RunView, width = this.chartWidth(), charts: { from?: number; to?: number } = {}): void {
    const controlsChanged =
      !this.run ||
      methodsOf(this.run).join() !== methodsOf(run).join() ||
      seedsOf(this.run).join() !== seedsOf(run).join() ||
      hasTune(this.run) !== hasTune(run);
    this.run = run;
    if (controlsChanged) this.renderControls(run);
    const metrics: (MetricName | 'rho')[] = [
      ...METRICS,
      ...(run.series.some((s) => Object.keys(s.curves).some((k) => k.startsWith('rho:'))) ? (['rho'] as const) : []),
    ];
    // One width for every chart: measuring after each new chart forced a layout of the page per
    // chart (a third of the first render's time).
    for (const m of metrics.slice(charts.from ?? 0, charts.to)) this.renderChart(m, run, width);
    if (!run.series.length && !this.grid.querySelector('.empty'))
      this.grid.append(
        h('p', { class: 'empty' }, 'No metrics yet: points appear at every evaluation (metrics.jsonl).'),
      );
    if (run.series.length) this.grid.querySelector('.empty')?.remove();
  }

  private setUi(patch: Partial<CurvesUi>): void {
    this.ui = { ...this.ui, ...patch };
    this.onUi(this.ui);
    if (this.run) this.render(this.run);
  }

  private renderControls(run: RunView): void {
    clear(this.controls);
    const methods = methodsOf(run);
    const seeds = seedsOf(run);
    const group = (label: string, ...items: HTMLElement[]): HTMLElement =>
      h('div', { class: 'control-group' }, h('span', { class: 'control-label' }, label), ...items);
    this.controls.append(
      group(
        'Methods',
        ...methods.map((m) =>
          checkbox(
            m,
            !this.ui.hiddenMethods.includes(m),
            (on) =>
              this.setUi({
                hiddenMethods: on ? this.ui.hiddenMethods.filter((x) => x !== m) : [...this.ui.hiddenMethods, m],
              }),
            `method:${m}`,
          ),
        ),
      ),
      group(
        'Seeds',
        ...seeds.map((s) =>
          checkbox(
            String(s),
            !this.ui.hiddenSeeds.includes(s),
            (on) =>
              this.setUi({
                hiddenSeeds: on ? this.ui.hiddenSeeds.filter((x) => x !== s) : [...this.ui.hiddenSeeds, s],
              }),
            `seed:${s}`,
          ),
        ),
      ),
      group(
        'Show',
        ...(hasTune(run)
          ? [checkbox('β tuning runs', this.ui.showTune, (on) => this.setUi({ showTune: on }), 'tune')]
          : []),
        checkbox('log y', this.ui.log, (on) => this.setUi({ log: on }), 'log'),
        checkbox('log x', this.ui.logX, (on) => this.setUi({ logX: on }), 'logX'),
      ),
      group(
        'Across seeds',
        select(
          [
            { value: 'each', label: 'each seed' },
            { value: 'band', label: 'mean ± SE' },
          ],
          this.ui.seedView,
          (v) => this.setUi({ seedView: v === 'band' ? 'band' : 'each' }),
          'One line per seed, or the mean across seeds with a ± standard error band',
        ),
      ),
      group(
        'Smoothing',
        select(
          SMOOTHING.map((w) => ({ value: String(w), label: w === 0 ? 'none' : String(w) })),
          String(this.ui.smoothing),
          (v) => this.setUi({ smoothing: Number(v) }),
          'Smoothing (exponential moving average weight)',
        ),
        checkbox('raw underneath', this.ui.raw, (on) => this.setUi({ raw: on }), 'raw'),
      ),
    );
  }

  private linesFor(metric: MetricName | 'rho', run: RunView): Line[] {
    const colors = methodColors(methodsOf(run), this.theme);
    const seeds = seedsOf(run);
    const visible = run.series.filter(
      (s) =>
        !this.ui.hiddenMethods.includes(s.method) &&
        !this.ui.hiddenSeeds.includes(s.seed) &&
        (s.phase === 'final' || this.ui.showTune),
    );
    const lines: Line[] = [];
    if (metric === 'rho') {
      const sources = [
        ...new Set(run.series.flatMap((s) => Object.keys(s.curves).filter((k) => k.startsWith('rho:')))),
      ].sort();
      for (const s of visible) {
        for (const k of sources) {
          if (!s.curves[k]) continue;
          const source = k.slice(4);
          lines.push({
            key: `${s.id}|${k}`,
            label: `${seriesLabel(s)} · ${source}`,
            color: this.theme.palette[sources.indexOf(k) % this.theme.palette.length],
            dash: seedDash(seeds, s.seed),
            series: s,
            curve: k,
          });
        }
      }
    } else {
      for (const s of visible)
        if (s.curves[metric])
          lines.push({
            key: s.id,
            label: seriesLabel(s),
            color: colors.get(s.method)!,
            dash: seedDash(seeds, s.seed),
            series: s,
            curve: metric,
          });
    }
    return lines;
  }

  private renderChart(metric: MetricName | 'rho', run: RunView, width: number): void {
    let chart = this.charts.get(metric);
    if (!chart) {
      const ex = {
        scene: () => this.scene(metric),
        csv: () => this.csv(metric),
        curves: () => (this.charts.get(metric)?.lines ?? []).map((l) => ({ series: l.series.id, curve: l.curve })),
      };
      const c = card(this.host, TITLES[metric], () => `${run.runId}-${metric}`, ex, `chart-${metric}`);
      chart = { metric, card: c, keys: '', lines: [], plotted: [] };
      this.charts.set(metric, chart);
      this.grid.append(c.root);
    }
    const lines = this.linesFor(metric, run);
    const plotted = this.plotted(lines);
    chart.lines = lines;
    chart.plotted = plotted;
    const aligned = alignCurves(plotted) as uPlot.AlignedData;
    const keys = `${this.ui.log}|${this.ui.logX}|${plotted.map((l) => l.key).join(',')}`;
    if (chart.plot && chart.keys === keys) {
      chart.plot.setData(aligned);
      return;
    }
    chart.plot?.destroy();
    chart.keys = keys;
    clear(chart.card.body);
    if (!lines.length) {
      chart.plot = undefined;
      chart.card.body.append(h('p', { class: 'empty' }, 'No visible series.'));
      return;
    }
    const t = this.theme;
    const axis = (label: string): uPlot.Axis => ({
      label,
      stroke: t.foreground,
      grid: { stroke: t.grid, width: 1 },
      ticks: { stroke: t.grid, width: 1 },
      font: `11px ${t.font}`,
      labelFont: `11px ${t.font}`,
    });
    // Lines 1 px wide: Skia strokes lines of at most a device pixel on its hairline fast path, and
    // wider ones through its general stroker. With 1.5 px, a 9-series run's charts took twice as
    // long to reach the screen once drawn (Chromium's software canvas, as here without a GPU:
    // 470 ms from the data to the screen instead of 600, medians of 6 opens, headless).
    const opts: uPlot.Options = {
      width,
      height: 220,
      scales: {
        x: this.ui.logX ? { time: false, distr: 3, log: 10 } : { time: false },
        y: this.ui.log ? { distr: 3, log: 10 } : {},
      },
      axes: [axis('step'), { ...axis(''), size: 56, values: (_u, vals) => vals.map((v) => fmt(v)) }],
      series: [
        { label: 'step' },
        ...plotted.map((l) => ({
          label: l.label,
          stroke: l.color,
          dash: l.dash,
          width: 1,
          spanGaps: true,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v, 4)),
        })),
      ],
      // A seed band fills between its upper and lower edges (uPlot's series indices count x as 0).
      bands: plotted.flatMap((l, i) =>
        l.key.endsWith('|hi') ? [{ series: [i + 1, i + 2] as [number, number], fill: fade(l.color, BAND_ALPHA) }] : [],
      ),
      cursor: { sync: { key: 'aft-curves' } },
      legend: { live: true },
    };
    chart.plot = new uPlot(opts, aligned, chart.card.body);
    // Raw curves and band edges are drawn, not listed (uPlot has no per-series legend switch).
    const rows = chart.plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
    plotted.forEach((l, i) => {
      if (l.noLegend && rows[i + 1]) rows[i + 1].style.display = 'none';
    });
  }

  /**
   * What the chart draws for these lines: each line (smoothed, with its raw curve faintly
   * underneath when `raw`), or with `seedView: band` each method's mean across its seeds with
   * the ± SE band (its edges faint) where it has two or more; log axes drop what they cannot show.
   */
  private plotted(lines: Line[]): Plotted[] {
    const smooth = (v: number[]): number[] => (this.ui.smoothing > 0 ? smoothEma(v, this.ui.smoothing) : v);
    const axes = (p: Plotted): Plotted => ({
      ...p,
      x: this.ui.logX ? p.x.map((v) => (v > 0 ? v : NaN)) : p.x,
      y: this.ui.log ? p.y.map((v) => (v > 0 ? v : NaN)) : p.y,
    });
    const out: Plotted[] = [];
    const single: Line[] = [];
    if (this.ui.seedView === 'band') {
      const groups = new Map<string, Line[]>();
      for (const l of lines) {
        const k = `${l.series.method}|${l.series.phase}|${l.series.beta}|${l.curve}`;
        const g = groups.get(k);
        if (g) g.push(l);
        else groups.set(k, [l]);
      }
      for (const [k, g] of groups) {
        if (g.length < 2) {
          single.push(...g);
          continue;
        }
        const b = seedBand(
          g.map((l) => ({ x: l.series.curves[l.curve].step, y: smooth(l.series.curves[l.curve].value) })),
        );
        const first = g[0];
        const source = first.curve.startsWith('rho:') ? ` · ${first.curve.slice(4)}` : '';
        const tune = first.series.phase === 'tune' ? ` β=${fmt(first.series.beta)} (tuning)` : '';
        const label = `${first.series.method}${tune}${source}: mean ± SE of ${g.length} seeds`;
        const faint = fade(first.color, RAW_ALPHA);
        out.push(
          axes({ key: `${k}|hi`, label: `${label} (+SE)`, color: faint, dash: [], x: b.x, y: b.hi, noLegend: true }),
          axes({ key: `${k}|lo`, label: `${label} (−SE)`, color: faint, dash: [], x: b.x, y: b.lo, noLegend: true }),
          axes({ key: `${k}|mean`, label, color: first.color, dash: [], x: b.x, y: b.mean }),
        );
      }
    } else single.push(...lines);
    for (const l of single) {
      const c = l.series.curves[l.curve];
      if (this.ui.smoothing > 0 && this.ui.raw)
        out.push(
          axes({
            key: `${l.key}|raw`,
            label: `${l.label} (raw)`,
            color: fade(l.color, RAW_ALPHA),
            dash: l.dash,
            x: c.step,
            y: c.value,
            noLegend: true,
          }),
        );
      out.push(axes({ key: l.key, label: l.label, color: l.color, dash: l.dash, x: c.step, y: smooth(c.value) }));
    }
    return out;
  }

  chartWidth(): number {
    return chartWidthIn(this.grid.clientWidth || document.body.clientWidth || 800);
  }

  /**
   * Points per curve the charts will draw (one per device pixel across them), for `ready`: the
   * host sends that many. From the window's width less the page's padding (40 px) and a scroll
   * bar (~15 px), not the grid's: measuring an element then would lay out the new page before
   * `ready` can go. Remembered: a resize asks again only when the charts are clearly wider.
   */
  readyPoints(): number {
    this.askedPoints = pointsAcross(chartWidthIn(window.innerWidth - 56), window.devicePixelRatio);
    return this.askedPoints;
  }

  private fit(): void {
    const width = this.chartWidth();
    for (const c of this.charts.values())
      if (c.plot && Math.abs(c.plot.width - width) > 2) c.plot.setSize({ width, height: 220 });
    // Clearly wider charts than the run was sent (or last asked) for: ask for it again, finer.
    const points = pointsAcross(width, window.devicePixelRatio);
    if (this.run && needsFinerPoints(Math.max(this.run.maxPoints, this.askedPoints), points)) {
      this.askedPoints = points;
      this.host.chartPoints?.(points);
    }
  }

  private scene(metric: MetricName | 'rho') {
    const chart = this.charts.get(metric);
    if (!chart) return undefined;
    const series: LineSeries[] = chart.plotted.map((l) => ({
      label: l.label,
      color: l.color,
      dash: l.dash,
      x: l.x,
      y: l.y,
      ...(l.noLegend ? { noLegend: true } : {}),
    }));
    return lineScene(
      {
        title: TITLES[metric],
        xLabel: 'step',
        yLabel: metric === 'rho' ? 'mean ρ' : metric,
        log: this.ui.log,
        logX: this.ui.logX,
        series,
      },
      this.theme,
    );
  }

  private csv(metric: MetricName | 'rho'): string | undefined {
    const chart = this.charts.get(metric);
    if (!chart) return undefined;
    const rows: (string | number)[][] = [];
    // The logged values (not smoothed). In VS Code the host writes every logged row instead
    // (`curves` above); here, in the HTML report, long series hold the points kept (LTTB).
    for (const l of chart.lines) {
      const c = l.series.curves[l.curve];
      for (let j = 0; j < c.step.length; j++)
        rows.push([l.series.method, l.series.seed, l.series.phase, l.series.beta, l.curve, c.step[j], c.value[j]]);
    }
    return toCsv(['method', 'seed', 'phase', 'beta', 'curve', 'step', 'value'], rows);
  }
}

/** The width of each chart in a grid `w` px wide: two a row from 900 px, else one. */
function chartWidthIn(w: number): number {
  return Math.max(280, w >= 900 ? Math.floor(w / 2) - 32 : w - 24);
}

export function methodsOf(run: RunView): string[] {
  const fromSummary = run.summary ? Object.keys(run.summary.methods) : [];
  return [...new Set([...fromSummary, ...run.series.map((s) => s.method), ...run.rho.map((r) => r.method)])];
}

function seedsOf(run: RunView): number[] {
  return [...new Set(run.series.map((s) => s.seed))].sort((a, b) => a - b);
}

function hasTune(run: RunView): boolean {
  return run.series.some((s) => s.phase === 'tune');
}
