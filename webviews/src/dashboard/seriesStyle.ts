/** How a series looks and is named: colour by method, dash by seed, thin lines for tuning runs. */
import type { SeriesData } from '../../../core/common/protocol/webview';
import { SEED_DASHES, type Theme } from '../charts/theme';

export function methodColors(methods: readonly string[], theme: Theme): Map<string, string> {
  return new Map(methods.map((m, i) => [m, theme.palette[i % theme.palette.length]]));
}

export function seriesLabel(s: SeriesData): string {
  return s.phase === 'final' ? `${s.method} s${s.seed}` : `${s.method} s${s.seed} β=${s.beta} (tune)`;
}

export function seedDash(seeds: readonly number[], seed: number): number[] {
  const i = Math.max(0, seeds.indexOf(seed));
  return SEED_DASHES[i % SEED_DASHES.length];
}
