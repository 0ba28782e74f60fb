/** Text for runs and results, shared by the Runs view, the status bar and notifications. */
import type { MethodSummary, ProgressEvent } from '../../../core/common/protocol/events';

/** `74.20 ± 0.41 %` (accuracy mean ± standard error over seeds, in percent). */
export function accuracyText(m: MethodSummary): string {
  const a = m.test_accuracy;
  return `${(a.mean * 100).toFixed(2)} ± ${(a.se * 100).toFixed(2)} %`;
}

export function seedsText(m: MethodSummary): string {
  const n = Object.keys(m.test_accuracy.per_seed).length;
  return `${n} seed${n === 1 ? '' : 's'}`;
}

export function durationText(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function percentText(fraction: number): string {
  return `${Math.floor(Math.max(0, Math.min(1, fraction)) * 100)}%`;
}

/** `42% · aft seed 0 β=10 · 12 s left` */
export function progressText(p: Pick<ProgressEvent, 'fraction' | 'label' | 'etaSeconds'>): string {
  return [percentText(p.fraction), p.label, p.etaSeconds !== null ? `${durationText(p.etaSeconds)} left` : undefined]
    .filter(Boolean)
    .join(' · ');
}

/** `stl 74.2%, kd 74.8%, aft 80.1%` */
export function resultsLine(methods: Record<string, MethodSummary>): string {
  return Object.entries(methods)
    .map(([name, m]) => `${name} ${(m.test_accuracy.mean * 100).toFixed(1)}%`)
    .join(', ');
}
