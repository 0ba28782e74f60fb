/** The results table printed at the end of a run. */
import type { RunSummary } from '../../../core/common/protocol/events';

const pct = (v: number): string => (v * 100).toFixed(2);

/** Rows of cells as aligned columns under a rule. */
export function textTable(all: string[][]): string {
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [fmt(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(fmt)].join('\n');
}

export function resultsTable(s: RunSummary): string {
  const sourceNames = s.sources.map((x) => x.name);
  const header = ['method', 'test accuracy % (mean ± SE)', 'per seed', 'β', ...sourceNames.map((n) => `ρ ${n}`)];
  const rows = Object.entries(s.methods).map(([name, m]) => [
    name,
    `${pct(m.test_accuracy.mean)} ± ${pct(m.test_accuracy.se)}`,
    Object.values(m.test_accuracy.per_seed).map(pct).join(' '),
    m.kind === 'stl' ? '-' : String(m.beta),
    ...sourceNames.map((n) => (m.rho_mean_by_source?.[n] !== undefined ? m.rho_mean_by_source[n].toFixed(3) : '-')),
  ]);
  const lines = [textTable([header, ...rows])];
  if (s.sources.length) {
    lines.push(
      '',
      "pre-trained sources (linear probe: test accuracy % of a logistic regression on the source's features):",
    );
    for (const p of s.sources) {
      const probe =
        p.linear_probe_accuracy !== undefined
          ? pct(p.linear_probe_accuracy)
          : `n/a (${p.linear_probe_error ?? 'see the run log'})`;
      const lm = `, LogME ${p.logme_score !== undefined ? p.logme_score.toFixed(3) : `n/a (${p.logme_error ?? 'see the run log'})`}`;
      lines.push(`  ${p.name} (${p.kind}, ${p.width} features): linear probe ${probe}${lm}`);
    }
    if (s.linear_probe_concat !== undefined)
      lines.push(`  all sources concatenated: linear probe ${pct(s.linear_probe_concat)}`);
    const raw = rawProbeTable(s);
    if (raw) lines.push('', raw);
  }
  return lines.join('\n');
}

/**
 * The paper's fig. 6a as a table: per source, logistic regression on its raw features ψ and on
 * ψ ⊙ ρ for each method that learned ρ; undefined when the run has no such numbers.
 */
export function rawProbeTable(s: RunSummary): string | undefined {
  const methods = Object.entries(s.methods).filter(([, m]) => m.raw_probe_rho_by_source);
  if (!s.sources.some((x) => x.raw_probe_accuracy !== undefined) && !methods.length) return undefined;
  const header = ['source', 'ψ', ...methods.map(([name]) => `ψ⊙ρ ${name}`)];
  const rows = s.sources.map((src) => [
    src.name,
    src.raw_probe_accuracy !== undefined ? pct(src.raw_probe_accuracy) : '-',
    ...methods.map(([, m]) => {
      const v = m.raw_probe_rho_by_source?.[src.name];
      return v !== undefined ? pct(v) : '-';
    }),
  ]);
  if (s.raw_probe_concat !== undefined || methods.some(([, m]) => m.raw_probe_rho_concat !== undefined))
    rows.push([
      'all sources',
      s.raw_probe_concat !== undefined ? pct(s.raw_probe_concat) : '-',
      ...methods.map(([, m]) => (m.raw_probe_rho_concat !== undefined ? pct(m.raw_probe_rho_concat) : '-')),
    ]);
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [
    'logistic regression on raw features (fig. 6a: no standardisation, C = 1), test accuracy %:',
    ...all.map((r) => `  ${fmt(r)}`),
  ].join('\n');
}
