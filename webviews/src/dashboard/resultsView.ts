/**
 * Results from summary.json: test accuracy mean ± SE per method as bars with the per-seed
 * values (paper figure 2), the chosen β and the tuning candidates, and per source its width
 * and linear-probe accuracy.
 */
import type { RunSummary, RunView } from '../../../core/common/protocol/webview';
import { barsScene, type BarDatum } from '../charts/barsScene';
import type { Theme } from '../charts/theme';
import { fmt, pct } from '../charts/ticks';
import { card } from '../common/chartCard';
import { table } from '../common/controls';
import { clear, h, sceneElement } from '../common/dom';
import type { Host } from '../common/host';
import { toCsv } from '../../../core/common/view/csv';
import { methodColors } from './seriesStyle';
import { methodsOf } from './curvesView';

export function barData(summary: RunSummary, colors: Map<string, string>, fallback: string): BarDatum[] {
  return Object.entries(summary.methods).map(([method, m]) => ({
    method,
    mean: m.test_accuracy.mean,
    se: m.test_accuracy.se,
    perSeed: Object.entries(m.test_accuracy.per_seed ?? {}).map(([seed, value]) => ({ seed, value })),
    color: colors.get(method) ?? fallback,
    ...(m.kind !== 'stl' ? { note: `β=${m.beta}` } : {}),
  }));
}

export function resultsCsv(summary: RunSummary): string {
  const seeds = [
    ...new Set(Object.values(summary.methods).flatMap((m) => Object.keys(m.test_accuracy.per_seed ?? {}))),
  ].sort((a, b) => Number(a) - Number(b));
  return toCsv(
    [
      'method',
      'kind',
      'test_accuracy_mean',
      'test_accuracy_se',
      'beta',
      ...seeds.map((s) => `seed_${s}`),
      'train_seconds',
    ],
    Object.entries(summary.methods).map(([name, m]) => [
      name,
      m.kind,
      m.test_accuracy.mean,
      m.test_accuracy.se,
      m.beta,
      ...seeds.map((s) => m.test_accuracy.per_seed?.[s]),
      m.train_seconds,
    ]),
  );
}

export class ResultsView {
  readonly root = h('div', { class: 'results' });
  private summary: RunSummary | undefined;
  private run: RunView | undefined;

  constructor(
    private readonly host: Host,
    private theme: Theme,
  ) {}

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.summary = undefined;
    if (this.run) this.render(this.run);
  }

  render(run: RunView): void {
    this.run = run;
    if (run.summary === this.summary && this.root.firstChild) return;
    this.summary = run.summary;
    clear(this.root);
    const s = run.summary;
    if (!s) {
      this.root.append(
        h(
          'p',
          { class: 'empty' },
          run.status.state === 'running'
            ? 'Results appear when the run completes (summary.json).'
            : `No summary.json: the run ${run.status.state === 'completed' ? 'says it completed but has no summary' : `is ${run.status.state}`}.`,
        ),
      );
      return;
    }
    const colors = methodColors(methodsOf(run), this.theme);
    const bars = barData(s, colors, this.theme.foreground);
    const scene = () => barsScene(bars, this.theme);
    const barsCard = card(
      this.host,
      'Test accuracy per method',
      () => `${run.runId}-accuracy`,
      { scene, csv: () => resultsCsv(s) },
      'chart-bars',
    );
    barsCard.body.append(sceneElement(scene()));

    const seeds = [
      ...new Set(Object.values(s.methods).flatMap((m) => Object.keys(m.test_accuracy.per_seed ?? {}))),
    ].sort((a, b) => Number(a) - Number(b));
    const methodsTable = table(
      ['method', 'kind', 'test accuracy', 'β', ...seeds.map((x) => `seed ${x}`), 'mean ρ by source', 'train time'],
      Object.entries(s.methods).map(([name, m]) => [
        name,
        m.kind,
        `${pct(m.test_accuracy.mean, 2)} ± ${pct(m.test_accuracy.se, 2)}`,
        m.kind === 'stl' ? '–' : fmt(m.beta),
        ...seeds.map((x) => pct(m.test_accuracy.per_seed?.[x] ?? NaN, 2)),
        m.rho_mean_by_source
          ? Object.entries(m.rho_mean_by_source)
              .map(([src, v]) => `${src} ${fmt(v)}`)
              .join(', ')
          : '–',
        `${fmt(m.train_seconds)} s`,
      ]),
      'methods-table',
    );
    barsCard.body.append(methodsTable);

    const tuning = Object.entries(s.methods).flatMap(([name, m]) =>
      (m.tuning ?? []).map((t) => [
        name,
        String(t.seed),
        t.candidates.map((c) => `β=${fmt(c.beta)}: ${pct(c.holdout_accuracy, 1)}`).join(', '),
        fmt(t.chosen),
      ]),
    );
    const tuningCard = card(this.host, 'β tuning (holdout accuracy per candidate)', () => `${run.runId}-tuning`, {
      csv: () =>
        toCsv(
          ['method', 'seed', 'beta', 'holdout_accuracy', 'chosen'],
          Object.entries(s.methods).flatMap(([name, m]) =>
            (m.tuning ?? []).flatMap((t) =>
              t.candidates.map((c) => [name, t.seed, c.beta, c.holdout_accuracy, c.beta === t.chosen ? 'yes' : '']),
            ),
          ),
        ),
    });
    tuningCard.body.append(
      tuning.length
        ? table(['method', 'seed', 'candidates', 'chosen β'], tuning)
        : h('p', { class: 'empty' }, 'No β was tuned.'),
    );

    // Fig. 6a: logistic regression on raw ψ and on ψ ⊙ ρ of each method that learned ρ.
    const rhoProbed = Object.entries(s.methods).filter(([, m]) => m.raw_probe_rho_by_source);
    const sourcesCard = card(this.host, 'Pre-trained sources', () => `${run.runId}-sources`, {
      csv: () =>
        toCsv(
          [
            'source',
            'kind',
            'width',
            'linear_probe_accuracy',
            'logme_score',
            'raw_probe_accuracy',
            ...rhoProbed.map(([name]) => `raw_probe_rho_${name}`),
          ],
          s.sources.map((src) => [
            src.name,
            src.kind,
            src.width,
            src.linear_probe_accuracy,
            src.logme_score,
            src.raw_probe_accuracy,
            ...rhoProbed.map(([, m]) => m.raw_probe_rho_by_source?.[src.name]),
          ]),
        ),
    });
    sourcesCard.body.append(
      table(
        [
          'source',
          'kind',
          'features',
          'linear-probe accuracy',
          'LogME',
          'raw-scale probe ψ',
          ...rhoProbed.map(([name]) => `raw-scale probe ψ⊙ρ ${name}`),
        ],
        s.sources.map((src) => [
          src.name,
          src.kind,
          String(src.width),
          src.linear_probe_accuracy !== undefined ? pct(src.linear_probe_accuracy, 2) : 'not measured',
          src.logme_score !== undefined ? fmt(src.logme_score) : '–',
          src.raw_probe_accuracy !== undefined ? pct(src.raw_probe_accuracy, 2) : '–',
          ...rhoProbed.map(([, m]) => {
            const v = m.raw_probe_rho_by_source?.[src.name];
            return v !== undefined ? pct(v, 2) : '–';
          }),
        ]),
      ),
      ...(s.sources.some((src) => src.raw_probe_accuracy !== undefined)
        ? [
            h(
              'p',
              { class: 'caption' },
              'Raw-scale probe: logistic regression on the features as they are (no standardisation, C = 1), so it sees feature scales; on ψ ⊙ ρ it shows what the ρ a method learned keeps (paper fig. 6a). The linear probe standardises each feature, so it gives ψ and ψ ⊙ ρ the same accuracy.',
            ),
          ]
        : []),
      ...(s.linear_probe_concat !== undefined
        ? [
            h(
              'p',
              { class: 'caption' },
              `Linear probe of all sources concatenated (ψ): ${pct(s.linear_probe_concat, 2)}.`,
            ),
          ]
        : []),
      ...(s.raw_probe_concat !== undefined
        ? [
            h(
              'p',
              { class: 'caption' },
              `Raw-scale probe of all sources concatenated: ψ ${pct(s.raw_probe_concat, 2)}${rhoProbed
                .flatMap(([name, m]) =>
                  m.raw_probe_rho_concat !== undefined ? [`, ψ⊙ρ ${name} ${pct(m.raw_probe_rho_concat, 2)}`] : [],
                )
                .join('')}.`,
            ),
          ]
        : []),
      ...(s.teacher
        ? [
            h(
              'p',
              { class: 'caption' },
              `Built-in teacher: ${pct(s.teacher.validation_accuracy, 2)} on its own held-out digits.`,
            ),
          ]
        : []),
      h(
        'p',
        { class: 'caption' },
        `Dataset ${s.dataset.name}: ${s.dataset.train} training and ${s.dataset.test} test examples, ${s.dataset.classes} classes. Backend ${s.backend}; ${fmt(s.seconds)} s in all.`,
      ),
    );
    this.root.append(barsCard.root, tuningCard.root, sourcesCard.root);
  }
}
