/**
 * The study view: the study's figure (paper fig 6b, 3, 2c/d or 7b, as the study is), mean ρ per
 * source for a noise study (fig 6c), the numbers as a table, and where each value's run is.
 * Every chart and table exports as PNG, SVG and CSV.
 */
import type { HostMessage } from '../../../core/common/protocol/webview';
import type { StudyInfo } from '../../../core/common/runs/study';
import { studyFigure, studyFigureCsv, studyFigureTable } from '../../../core/common/view/studyFigure';
import { toCsv } from '../../../core/common/view/csv';
import { barsScene } from '../charts/barsScene';
import { lineScene } from '../charts/lineScene';
import { scatterScene } from '../charts/scatterScene';
import type { Scene } from '../charts/scene';
import { card } from '../common/chartCard';
import { table } from '../common/controls';
import { clear, h, sceneElement } from '../common/dom';
import type { Host } from '../common/host';
import { readTheme, watchTheme } from '../common/theme';
import { methodColors } from '../dashboard/seriesStyle';
import { accuracyBars, accuracyLines, lineCategories, probePoints, rhoLines } from './model';
import { pct } from '../charts/ticks';

export class StudyApp {
  private study: StudyInfo | undefined;

  constructor(
    private readonly host: Host,
    private readonly root: HTMLElement,
  ) {
    watchTheme(() => this.render());
  }

  start(): void {
    this.host.start((m) => this.onMessage(m));
  }

  onMessage(m: HostMessage): void {
    if (m.type === 'study') {
      this.study = m.study;
      this.host.setState({ studyDir: m.study.dir });
      this.render();
    } else if (m.type === 'error') {
      this.root.append(h('p', { class: 'error', role: 'alert' }, m.message));
    }
  }

  private render(): void {
    const study = this.study;
    if (!study) return;
    clear(this.root);
    const { record } = study;
    const fig = studyFigure(record, study.values);
    const id = record.studyId;
    this.root.append(
      h(
        'header',
        { class: 'run-header' },
        h('h1', {}, `Study ${id}`),
        h(
          'p',
          { class: 'caption' },
          `${record.vary} over ${record.values.length} values (${record.kind}) · ${study.state} · ${study.done} of ${record.values.length} done${study.message ? ` · ${study.message}` : ''}`,
        ),
      ),
    );

    const figScene = (): Scene | undefined => {
      const t = readTheme();
      const c = methodColors(fig.methods, t);
      if (fig.shape === 'line')
        return lineScene(
          {
            title: fig.title,
            xLabel: fig.xLabel,
            yLabel: 'test accuracy',
            log: false,
            series: accuracyLines(fig, c),
            categories: lineCategories(fig),
            yFormat: (v) => pct(v, 1),
          },
          t,
        );
      if (fig.shape === 'scatter')
        return scatterScene(
          probePoints(fig),
          fig.methods.map((m) => ({ method: m, color: c.get(m)!, r: fig.probe?.r[m]?.r ?? NaN })),
          t,
          "linear-probe accuracy of the value's source",
        );
      return barsScene(accuracyBars(fig, c), t, fig.title);
    };
    const csv = (): string => studyFigureCsv(fig);
    const figCard = card(this.host, fig.title, () => `${id}-figure`, { scene: figScene, csv }, 'study-figure');
    if (fig.values.some((v) => v.done)) figCard.body.append(sceneElement(figScene()!));
    else figCard.body.append(h('p', { class: 'empty' }, 'No value has finished yet.'));
    this.root.append(figCard.root);

    if (fig.rho.length && fig.shape === 'line') {
      const rhoScene = (): Scene =>
        lineScene(
          {
            title: 'Mean learned ρ per source (paper fig 6c)',
            xLabel: fig.xLabel,
            yLabel: 'mean ρ',
            log: false,
            series: rhoLines(fig, methodColors(fig.methods, readTheme())),
            categories: lineCategories(fig),
          },
          readTheme(),
        );
      const rhoCsv = (): string =>
        toCsv(
          ['method', 'source', 'value', 'x', 'rho_mean'],
          fig.rho.flatMap((r) => fig.values.map((v) => [r.method, r.source, v.label, v.x, r.values[v.index]])),
        );
      const rhoCard = card(
        this.host,
        'Mean ρ per source',
        () => `${id}-rho`,
        { scene: rhoScene, csv: rhoCsv },
        'study-rho',
      );
      rhoCard.body.append(sceneElement(rhoScene()));
      this.root.append(rhoCard.root);
    }

    const rows = studyFigureTable(fig);
    const tableCard = card(
      this.host,
      'Test accuracy % (mean ± SE over seeds)',
      () => `${id}-table`,
      { csv },
      'study-table',
    );
    tableCard.body.append(table(rows[0], rows.slice(1)));
    this.root.append(tableCard.root);

    const runsCard = card(
      this.host,
      'Runs',
      () => `${id}-runs`,
      {
        csv: () =>
          toCsv(
            ['value', 'state', 'run', 'message'],
            study.values.map((v) => [v.label, v.state ?? 'not started', v.runId ?? '', v.message ?? '']),
          ),
      },
      'study-runs',
    );
    runsCard.body.append(
      table(
        ['value', 'state', 'run'],
        study.values.map((v) => [
          v.label,
          `${v.state ?? 'not started'}${v.progress ? ` ${(v.progress.fraction * 100).toFixed(0)}%` : ''}${v.message ? ` (${v.message})` : ''}`,
          v.runId ?? '',
        ]),
      ),
    );
    this.root.append(runsCard.root);
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
  }
}
