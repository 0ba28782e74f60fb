/**
 * The run dashboard: a header with the run's state, then the curves, the ρ heatmap and the
 * results, each in a collapsible section. State that should survive a reload (toggles, the
 * chosen heatmap, the run folder for the host's serializer) is saved with the host.
 */
import { applyUpdate, type HostMessage, type RunView } from '../../../core/common/protocol/webview';
import { fmt, pct } from '../charts/ticks';
import { append, clear, h, markTime } from '../common/dom';
import type { Host } from '../common/host';
import { readTheme, watchTheme } from '../common/theme';
import { CurvesView, DEFAULT_CURVES_UI, type CurvesUi } from './curvesView';
import { DEFAULT_HEATMAP_UI, HeatmapView, type HeatmapUi } from './heatmapView';
import { ResultsView } from './resultsView';

/**
 * Charts in the first render: two rows of two, the first screen of a dashboard in a window of
 * ~900 px (one column when narrow: more than a screen). The rest (the test accuracy and ρ
 * curves, the heatmap, the results) follow a frame later: a long run's first screen was on
 * screen ~410 ms after its data arrived, instead of ~500 ms with everything in one frame
 * (medians of 12 opens, headless Chromium).
 */
const FIRST_SCREEN_CHARTS = 4;

/**
 * Read by the tests and benchmarks: how many whole renders (every section drawn) there were, and
 * how many run messages the last one had taken in. Renders are coalesced (two runs that arrive
 * before a frame are drawn once), so a test that waits for what it sent waits until
 * `drawnMessages` reaches `messages`, never for a count of renders.
 */
function countRender(messages: number): void {
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
  document.body.dataset.drawnMessages = String(messages);
}

/** What the webview saves (`vscode.setState`); the host's serializer reads `runDir`. */
export interface DashboardState {
  runDir?: string;
  curves?: CurvesUi;
  heatmap?: HeatmapUi;
  collapsed?: string[];
}

export class DashboardApp {
  private run: RunView | undefined;
  private state: DashboardState;
  private readonly header = h('header', { class: 'run-header' });
  private readonly curves: CurvesView;
  private readonly heatmap: HeatmapView;
  private readonly results: ResultsView;
  private frame = 0;
  /** How many `run` and `update` messages arrived (each one is drawn by the next whole render). */
  private messages = 0;
  /**
   * The first screen renders alone (`renderWhole`): `first` until it has, then `below` while the
   * rest is due next frame, then `whole` (a render that draws everything covers what was due).
   */
  private stage: 'first' | 'below' | 'whole' = 'first';

  constructor(
    private readonly host: Host,
    root: HTMLElement,
  ) {
    this.state = host.getState<DashboardState>() ?? {};
    const theme = readTheme();
    this.curves = new CurvesView(host, theme, { ...DEFAULT_CURVES_UI, ...this.state.curves }, (curves) =>
      this.save({ curves }),
    );
    this.heatmap = new HeatmapView(host, theme, { ...DEFAULT_HEATMAP_UI, ...this.state.heatmap }, (heatmap) =>
      this.save({ heatmap }),
    );
    this.results = new ResultsView(host, theme);
    root.append(
      this.header,
      this.section('curves', 'Training curves', this.curves.root),
      this.section('rho', 'Learned feature weights', this.heatmap.root),
      this.section('results', 'Results', this.results.root),
    );
    watchTheme(() => {
      const t = readTheme();
      this.curves.setTheme(t);
      this.heatmap.setTheme(t);
      this.results.setTheme(t);
    });
  }

  start(): void {
    // The charts' width in `ready`: the run is then sent with about one point per pixel of them.
    this.host.start(
      (m) => this.onMessage(m),
      () => this.curves.readyPoints(),
    );
  }

  onMessage(m: HostMessage): void {
    switch (m.type) {
      case 'run':
        // When the whole run arrived (epoch ms), for the benchmarks' breakdown of an open.
        if (document.body.dataset.runAt === undefined) markTime('runAt');
        this.run = m.run;
        this.save({ runDir: m.run.location });
        break;
      case 'update':
        if (!this.run) return;
        this.run = applyUpdate(this.run, m);
        break;
      case 'error':
        this.showError(m.message);
        return;
      case 'compare':
        return;
    }
    document.body.dataset.messages = String(++this.messages);
    this.schedule();
  }

  /** Renders at most once per animation frame, however many updates arrive. */
  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (!this.run) return;
      const t0 = performance.now();
      const parts: Record<string, number> = {};
      const timed = (name: string, fn: () => void): void => {
        const t = performance.now();
        fn();
        parts[name] = Math.round((performance.now() - t) * 10) / 10;
      };
      const run = this.run;
      // Every width is read before anything is written: one layout per render, not one per chart.
      let widths = { curves: 0, heatmap: 0 };
      timed('measure', () => (widths = { curves: this.curves.chartWidth(), heatmap: this.heatmap.width() }));
      timed('header', () => this.renderHeader(run));
      if (this.renderWhole()) {
        timed('curves', () => this.curves.render(run, widths.curves));
        timed('heatmap', () => this.heatmap.render(run, widths.heatmap));
        timed('results', () => this.results.render(run));
        countRender(this.messages);
      } else timed('curves', () => this.curves.render(run, widths.curves, { to: FIRST_SCREEN_CHARTS }));
      // Read by the benchmarks: how long the last render (or first screen) took, and where.
      document.body.dataset.renderMs = (performance.now() - t0).toFixed(1);
      document.body.dataset.renderParts = JSON.stringify(parts);
      // uPlot draws in a microtask after the render: this one, queued last, runs when it is done.
      queueMicrotask(() => markTime('drawnAt'));
      // The next frame starts once this one is on screen: when the user sees the render.
      requestAnimationFrame(() => {
        markTime('paintedAt');
        this.renderBelow(widths);
      });
      markTime('renderedAt');
    });
  }

  /**
   * Whether this render draws everything. The first draws only the first screen (the header and
   * the first FIRST_SCREEN_CHARTS charts) and leaves the rest, below it, to the next frame
   * (`renderBelow`): the first screen is then on screen sooner.
   */
  private renderWhole(): boolean {
    if (this.stage === 'first') {
      this.stage = 'below';
      return false;
    }
    this.stage = 'whole';
    return true;
  }

  /** What the first render left out, in the frame after it (then on screen a frame later). */
  private renderBelow(widths: { curves: number; heatmap: number }): void {
    if (this.stage !== 'below' || !this.run) return;
    this.stage = 'whole';
    this.curves.render(this.run, widths.curves, { from: FIRST_SCREEN_CHARTS });
    this.heatmap.render(this.run, widths.heatmap);
    this.results.render(this.run);
    countRender(this.messages);
    requestAnimationFrame(() => markTime('allPaintedAt'));
  }

  private section(id: string, title: string, content: HTMLElement): HTMLElement {
    const open = !(this.state.collapsed ?? []).includes(id);
    const c = h(
      'vscode-collapsible',
      { heading: title, ...(open ? { open: true } : {}), id: `section-${id}` },
      content,
    ) as HTMLElement & { open: boolean };
    c.addEventListener('vsc-collapsible-toggle', () => {
      const collapsed = new Set(this.state.collapsed ?? []);
      if (c.open) collapsed.delete(id);
      else collapsed.add(id);
      this.save({ collapsed: [...collapsed] });
    });
    return c;
  }

  private renderHeader(run: RunView): void {
    clear(this.header);
    const s = run.status;
    const p = s.progress;
    append(
      this.header,
      h('h1', {}, s.experiment || run.runId),
      h('vscode-badge', { class: `state state-${s.state}`, 'data-state': s.state }, s.state),
      h('span', { class: 'run-id' }, run.runId),
      s.state === 'running' && p
        ? h(
            'span',
            { class: 'progress-label' },
            `${pct(p.fraction, 0)} · ${p.label}${p.etaSeconds !== null ? ` · about ${fmt(p.etaSeconds, 2)} s left` : ''}`,
          )
        : null,
      s.message ? h('p', { class: 'run-message' }, s.message) : null,
    );
    if (s.state === 'running')
      this.header.append(
        h('vscode-progress-bar', { value: String(p?.fraction ?? 0), max: '1', class: 'run-progress' }),
      );
  }

  private showError(message: string): void {
    this.header.append(h('p', { class: 'error', role: 'alert' }, message));
  }

  private save(patch: Partial<DashboardState>): void {
    this.state = { ...this.state, ...patch };
    this.host.setState(this.state);
  }
}
