/**
 * The comparison across runs: a methods × runs table of test accuracy (± SE, chosen β) and the
 * scatter of each method's accuracy against the linear-probe accuracy of the runs' pre-trained
 * features, with the correlation per method (paper figure 3).
 */
import type { CompareRun, HostMessage } from '../../../core/common/protocol/webview';
import { scatterScene } from '../charts/scatterScene';
import { fmt, pct } from '../charts/ticks';
import { card } from '../common/chartCard';
import { select, table } from '../common/controls';
import { clear, h, sceneElement } from '../common/dom';
import type { Host } from '../common/host';
import { readTheme, watchTheme } from '../common/theme';
import { toCsv } from '../../../core/common/view/csv';
import { methodColors } from '../dashboard/seriesStyle';
import { compareMethods, probeSources, rawProbeRows, scatterData, type ProbeChoice } from './model';

export interface CompareState {
  runDirs?: string[];
  probe?: ProbeChoice;
}

export class CompareApp {
  private runs: CompareRun[] = [];
  private state: CompareState;

  constructor(
    private readonly host: Host,
    private readonly root: HTMLElement,
  ) {
    this.state = host.getState<CompareState>() ?? {};
    watchTheme(() => this.render());
  }

  start(): void {
    this.host.start((m) => this.onMessage(m));
  }

  onMessage(m: HostMessage): void {
    if (m.type === 'compare') {
      this.runs = m.runs;
      this.save({ runDirs: m.runs.map((r) => r.location) });
      this.render();
    } else if (m.type === 'error') {
      this.root.append(h('p', { class: 'error', role: 'alert' }, m.message));
    }
  }

  private save(patch: Partial<CompareState>): void {
    this.state = { ...this.state, ...patch };
    this.host.setState(this.state);
  }

  private render(): void {
    clear(this.root);
    const theme = readTheme();
    const runs = this.runs;
    const methods = compareMethods(runs);
    const colors = methodColors(methods, theme);
    this.root.append(
      h('header', { class: 'run-header' }, h('h1', {}, `Comparing ${runs.length} run${runs.length === 1 ? '' : 's'}`)),
    );

    const cell = (run: CompareRun, method: string): string => {
      const m = run.summary?.methods[method];
      if (!m) return run.summary ? '–' : run.state;
      return `${pct(m.test_accuracy.mean, 2)} ± ${pct(m.test_accuracy.se, 2)}${m.kind !== 'stl' ? ` (β=${fmt(m.beta)})` : ''}`;
    };
    const tableCard = card(
      this.host,
      'Test accuracy: methods × runs',
      () => 'compare-table',
      {
        csv: () =>
          toCsv(
            ['method', 'run', 'experiment', 'test_accuracy_mean', 'test_accuracy_se', 'beta'],
            runs.flatMap((r) =>
              Object.entries(r.summary?.methods ?? {}).map(([name, m]) => [
                name,
                r.runId,
                r.experiment,
                m.test_accuracy.mean,
                m.test_accuracy.se,
                m.beta,
              ]),
            ),
          ),
      },
      'compare-table',
    );
    tableCard.body.append(
      table(
        ['method', ...runs.map((r) => `${r.experiment} · ${r.runId}`)],
        methods.map((m) => [m, ...runs.map((r) => cell(r, m))]),
      ),
    );
    const incomplete = runs.filter((r) => !r.summary);
    if (incomplete.length)
      tableCard.body.append(
        h(
          'p',
          { class: 'caption' },
          `Without results yet: ${incomplete.map((r) => `${r.runId} (${r.state})`).join(', ')}.`,
        ),
      );

    const sources = probeSources(runs);
    const choice: ProbeChoice =
      this.state.probe &&
      (this.state.probe === 'psi' || this.state.probe === 'max' || sources.includes(this.state.probe))
        ? this.state.probe
        : 'psi';
    const data = scatterData(runs, choice);
    const xLabel =
      choice === 'psi'
        ? 'linear-probe accuracy (all sources)'
        : choice === 'max'
          ? 'linear-probe accuracy (best source)'
          : `linear-probe accuracy of ${choice}`;
    const scene = () =>
      scatterScene(
        data.points,
        methods.map((m) => ({ method: m, color: colors.get(m)!, r: data.r.get(m) ?? NaN })),
        readTheme(),
        xLabel,
      );
    const scatterCard = card(
      this.host,
      'Accuracy vs linear-probe accuracy',
      () => 'compare-scatter',
      {
        scene,
        csv: () =>
          toCsv(
            ['method', 'run', 'linear_probe_accuracy', 'test_accuracy_mean', 'test_accuracy_se'],
            data.points.map((p) => [p.method, p.run, p.x, p.y, p.se]),
          ),
      },
      'compare-scatter',
    );
    scatterCard.body.append(
      h(
        'div',
        { class: 'controls' },
        h(
          'div',
          { class: 'control-group' },
          h('span', { class: 'control-label' }, 'Probe accuracy of'),
          select(
            [
              { value: 'psi', label: 'all sources (ψ)' },
              { value: 'max', label: 'best source' },
              ...sources.map((s) => ({ value: s, label: s })),
            ],
            choice,
            (v) => {
              this.save({ probe: v });
              this.render();
            },
          ),
        ),
      ),
    );
    if (data.points.some((p) => Number.isFinite(p.x))) scatterCard.body.append(sceneElement(scene()));
    else
      scatterCard.body.append(
        h(
          'p',
          { class: 'empty' },
          "None of these runs' summaries has this linear-probe accuracy (summary.json linear_probe_concat, sources[].linear_probe_accuracy).",
        ),
      );
    this.root.append(tableCard.root, scatterCard.root);

    // Paper fig. 6a: a probe that sees feature scales, on ψ and on ψ ⊙ ρ of each method's ρ (the
    // linear probe standardises each column, so ρ could not change it).
    const raw = rawProbeRows(runs);
    if (raw.rows.length) {
      const rawCard = card(
        this.host,
        'Raw-scale probe of ψ and of ψ ⊙ ρ (fig. 6a)',
        () => 'compare-raw-probe',
        {
          csv: () =>
            toCsv(
              ['run', 'source', 'psi', ...raw.methods.map((m) => `psi_rho_${m}`)],
              raw.rows.map((r) => [r.run, r.source, r.psi, ...raw.methods.map((m) => r.rho[m] ?? NaN)]),
            ),
        },
        'compare-raw-probe',
      );
      rawCard.body.append(
        table(
          ['run', 'source', 'ψ', ...raw.methods.map((m) => `ψ ⊙ ρ (${m})`)],
          raw.rows.map((r) => [
            r.run,
            r.source,
            pct(r.psi, 2),
            ...raw.methods.map((m) => (r.rho[m] === undefined ? '–' : pct(r.rho[m], 2))),
          ]),
        ),
        h(
          'p',
          { class: 'caption' },
          'Test accuracy of logistic regression on the raw features (no standardisation, C = 1), and on the features weighted by the ρ each method learned (mean over seeds).',
        ),
      );
      this.root.append(rawCard.root);
    }
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
  }
}
