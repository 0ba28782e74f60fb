/**
 * A study's figure as chart inputs: lines over a numeric value (noise width, lr...) with ± SE,
 * bars per value and method, or points against each source's linear probe; and mean ρ per source
 * over the values (fig 6c). Pure: the chart scenes draw these.
 */
import type { StudyFigure } from '../../../core/common/view/studyFigure';
import type { BarDatum } from '../charts/barsScene';
import type { LineSeries } from '../charts/lineScene';
import type { ScatterPoint } from '../charts/scatterScene';

const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];

/**
 * The values as the line charts' x axis: evenly spaced, labelled with the value (a study's
 * values are a designed list such as 0, 64, 512, 2048, which a linear axis would crowd).
 */
export function lineCategories(fig: StudyFigure): string[] {
  return fig.values.map((v) => v.label);
}

/** One line per method over the values that have a result (x: the value's place). */
export function accuracyLines(fig: StudyFigure, colors: Map<string, string>): LineSeries[] {
  return fig.methods.map((m) => {
    const pts = fig.values.flatMap((v) => {
      const a = fig.accuracy[m][v.index];
      return a ? [{ x: v.index, y: a.mean, e: a.se }] : [];
    });
    return {
      label: m,
      color: colors.get(m) ?? '#888',
      dash: [],
      x: pts.map((p) => p.x),
      y: pts.map((p) => p.y),
      err: pts.map((p) => p.e),
    };
  });
}

/** Mean ρ of each source per method over the values (a line each; a source left out at a value is a gap). */
export function rhoLines(fig: StudyFigure, colors: Map<string, string>): LineSeries[] {
  const sources = [...new Set(fig.rho.map((r) => r.source))];
  // The method is named only when more than one method learns ρ.
  const several = new Set(fig.rho.map((r) => r.method)).size > 1;
  return fig.rho.map((r) => {
    const pts = fig.values.flatMap((v) => {
      const y = r.values[v.index];
      return y !== null ? [{ x: v.index, y }] : [];
    });
    return {
      label: several ? `ρ ${r.source} (${r.method})` : `ρ ${r.source}`,
      color: colors.get(r.method) ?? '#888',
      dash: DASHES[sources.indexOf(r.source) % DASHES.length],
      x: pts.map((p) => p.x),
      y: pts.map((p) => p.y),
      // No error bars, but a marker at each value: a source present at one value is one point.
      err: pts.map(() => 0),
    };
  });
}

/**
 * A bar per value and method that has a result there, labelled by the value (and the method when
 * a value ran several), coloured by method.
 */
export function accuracyBars(fig: StudyFigure, colors: Map<string, string>): BarDatum[] {
  return fig.values.flatMap((v) => {
    const here = fig.methods.filter((m) => fig.accuracy[m][v.index]);
    return here.map((m) => {
      const a = fig.accuracy[m][v.index]!;
      return {
        method: here.length > 1 ? `${v.label} · ${m}` : v.label,
        mean: a.mean,
        se: a.se,
        perSeed: a.perSeed,
        color: colors.get(m) ?? '#888',
      };
    });
  });
}

/** Each method's accuracy at each value against that value's source probe. */
export function probePoints(fig: StudyFigure): ScatterPoint[] {
  return fig.methods.flatMap((m) =>
    fig.values.flatMap((v) => {
      const a = fig.accuracy[m][v.index];
      const x = fig.probe?.x[v.index];
      return a && x !== null && x !== undefined ? [{ method: m, run: v.label, x, y: a.mean, se: a.se }] : [];
    }),
  );
}
