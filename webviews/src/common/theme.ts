/**
 * Reads the chart colours from VS Code's theme variables (the report defines stand-ins for them)
 * and tells the views when the theme changes (VS Code swaps the body's class and variables).
 */
import { FALLBACK_THEME, type Theme } from '../charts/theme';

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

export function readTheme(): Theme {
  const s = getComputedStyle(document.body);
  const f = FALLBACK_THEME;
  const palette = ['blue', 'red', 'green', 'yellow', 'orange', 'purple'].map((c, i) =>
    cssVar(s, `--vscode-charts-${c}`, f.palette[i]),
  );
  return {
    background: cssVar(s, '--vscode-editor-background', f.background),
    foreground: cssVar(s, '--vscode-editor-foreground', f.foreground),
    muted: cssVar(s, '--vscode-descriptionForeground', f.muted),
    grid: cssVar(s, '--vscode-charts-lines', f.grid),
    palette,
    accent: cssVar(s, '--vscode-charts-blue', f.accent),
    font: cssVar(s, '--vscode-font-family', f.font),
    highContrast:
      document.body.classList.contains('vscode-high-contrast') ||
      document.body.classList.contains('vscode-high-contrast-light'),
  };
}

/** Calls `onChange` after VS Code switches theme (body class or the variables on <html>). */
export function watchTheme(onChange: () => void): void {
  let pending = false;
  const fire = (): void => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      onChange();
    });
  };
  const mo = new MutationObserver(fire);
  mo.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', fire);
}
