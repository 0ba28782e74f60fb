/**
 * The HTML of the webview apps and of `aft report`: the bundled app (JS and CSS inline) under a
 * Content-Security-Policy that allows exactly that script and that stylesheet (by nonce in a
 * webview, by SHA-256 hash in a report) and nothing from a network. Run content reaches a report
 * only inside its JSON block, escaped so that no string in it can close the block or open markup;
 * a webview's HTML holds nothing from a run at all.
 */
import { createHash } from 'node:crypto';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON that is safe inside a `<script>` element: `<`, `>`, `&` and the two line separators
 * become `\u` escapes (which JSON.parse reads back as the same characters), so the text can
 * contain neither `</script>` nor `<!--`.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Makes bundled code safe to inline: `</script` (or `</style`) cannot end the element early. */
export function inlineSafe(code: string, tag: 'script' | 'style'): string {
  const closing = new RegExp(`</(${tag})`, 'gi');
  // In JS strings, regexes and comments `<\/` means `</`; in CSS `\/` is an escaped `/`.
  const out = code.replace(closing, '<\\/$1');
  if (tag === 'script' && out.includes('<!--'))
    throw new Error('the webview bundle contains "<!--", which an inline script cannot hold safely');
  return out;
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** One app page: the bundle inline, under the page's own Content-Security-Policy. */
export interface AppPage {
  title: string;
  /** The whole Content-Security-Policy (the webview's by nonce, the report's by hash). */
  csp: string;
  /** The bundle, already made safe to inline (`inlineSafe`). */
  js: string;
  css: string;
  /** Put on the inline <style> and <script> when the CSP allows them by nonce. */
  nonce?: string;
  bodyClass?: string;
  generator?: string;
  /** The data the app starts from, as JSON in a `<script type="application/json">` block. */
  data?: { id: string; value: unknown };
}

/** The one HTML template of the webviews and the reports: nothing from a run is markup in it. */
export function appPage(p: AppPage): string {
  const nonce = p.nonce !== undefined ? ` nonce="${escapeHtml(p.nonce)}"` : '';
  const meta = p.generator !== undefined ? `\n<meta name="generator" content="${escapeHtml(p.generator)}">` : '';
  const data = p.data
    ? `\n<script type="application/json" id="${escapeHtml(p.data.id)}">${jsonForScript(p.data.value)}</script>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(p.csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">${meta}
<title>${escapeHtml(p.title)}</title>
<style${nonce}>${p.css}</style>
</head>
<body${p.bodyClass !== undefined ? ` class="${escapeHtml(p.bodyClass)}"` : ''}>
<div id="app"></div>${data}
<script${nonce}>${p.js}</script>
</body>
</html>
`;
}

export interface ReportParts {
  title: string;
  js: string;
  css: string;
  /** The `HostMessage` the page's app starts from. */
  data: unknown;
  /** The id of the data block (`REPORT_DATA_ID`). */
  dataId: string;
  generator: string;
}

/** A self-contained report: the script and stylesheet allowed by their SHA-256 hashes. */
export function reportPage(p: ReportParts): string {
  const js = inlineSafe(p.js, 'script');
  const css = inlineSafe(p.css, 'style');
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(js)}`,
    `style-src ${sha256(css)}`,
    'img-src data: blob:',
    'font-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return appPage({
    title: p.title,
    csp,
    js,
    css,
    bodyClass: 'aft-report',
    generator: p.generator,
    data: { id: p.dataId, value: p.data },
  });
}
