/**
 * The colours a chart is drawn with, resolved from VS Code's theme variables (or the report's
 * stand-ins) by `readTheme` in the webview; pure here so scene builders and tests need no DOM.
 */
export interface Theme {
  background: string;
  foreground: string;
  muted: string;
  grid: string;
  /** Series colours (VS Code's chart palette first). */
  palette: string[];
  /** The heatmap's high end. */
  accent: string;
  font: string;
  highContrast: boolean;
}

export const FALLBACK_THEME: Theme = {
  background: '#ffffff',
  foreground: '#1f1f1f',
  muted: '#6f6f6f',
  grid: 'rgba(128,128,128,0.25)',
  palette: ['#1a85ff', '#e51400', '#388a34', '#bf8803', '#d18616', '#652d90'],
  accent: '#1a85ff',
  font: 'system-ui, sans-serif',
  highContrast: false,
};

/** Parses #rgb, #rrggbb, #rrggbbaa and rgb()/rgba() into [r, g, b] (alpha is dropped). */
export function parseColor(c: string): [number, number, number] | undefined {
  const s = c.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(s);
  if (m) return [0, 1, 2].map((i) => parseInt(m![1][i] + m![1][i], 16)) as [number, number, number];
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(s);
  if (m) return [0, 2, 4].map((i) => parseInt(m![1].slice(i, i + 2), 16)) as [number, number, number];
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(s);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  return undefined;
}

/**
 * A colour ramp of `n` steps from a faint tint of the background to `accent`, as CSS colours.
 * Built from the theme so it reads on light, dark and high-contrast backgrounds alike.
 */
export function ramp(theme: Theme, n = 256): string[] {
  const bg = parseColor(theme.background) ?? [255, 255, 255];
  const fg = parseColor(theme.foreground) ?? [0, 0, 0];
  const ac = parseColor(theme.accent) ?? [26, 133, 255];
  // The low end sits slightly toward the foreground so zero-valued cells stay visible as cells.
  const low = bg.map((b, i) => b + (fg[i] - b) * (theme.highContrast ? 0.2 : 0.08));
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const t = n === 1 ? 1 : k / (n - 1);
    const c = low.map((l, i) => Math.round(l + (ac[i] - l) * t));
    out.push(`rgb(${c[0]},${c[1]},${c[2]})`);
  }
  return out;
}

/** A colour made faint (`alpha` of it over whatever is below), as CSS; unparsable colours are kept. */
export function fade(color: string, alpha: number): string {
  const c = parseColor(color);
  return c ? `rgba(${c[0]},${c[1]},${c[2]},${alpha})` : color;
}

/** Index into a ramp for a value in [lo, hi] (clamped; NaN gives 0). */
export function rampIndex(v: number, lo: number, hi: number, n: number): number {
  if (!Number.isFinite(v)) return 0;
  const t = (v - lo) / (hi - lo || 1);
  return Math.max(0, Math.min(n - 1, Math.round(t * (n - 1))));
}

/** Dash patterns that tell seeds apart within a method's colour. */
export const SEED_DASHES: number[][] = [[], [6, 3], [2, 3], [8, 3, 2, 3]];
