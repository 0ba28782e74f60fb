/**
 * One self-contained HTML page: the bundled webview (JS and CSS inline) and the data as JSON in a
 * `<script type="application/json">` block. The page's Content-Security-Policy allows exactly
 * that script and that stylesheet (by SHA-256 hash) and nothing from a network. Run content
 * reaches the page only inside the JSON block, escaped so that no string in it can close the
 * block or open markup.
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
  if (tag === 'script' && out.includes('<!--')) throw new Error('the webview bundle contains "<!--", which an inline script cannot hold safely');
  return out;
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export interface PageParts {
  title: string;
  js: string;
  css: string;
  /** The `HostMessage` the page's app starts from. */
  data: unknown;
  /** The id of the data block (`REPORT_DATA_ID`). */
  dataId: string;
  generator: string;
}

export function reportPage(p: PageParts): string {
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
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${escapeHtml(p.generator)}">
<title>${escapeHtml(p.title)}</title>
<style>${css}</style>
</head>
<body class="aft-report">
<div id="app"></div>
<script type="application/json" id="${escapeHtml(p.dataId)}">${jsonForScript(p.data)}</script>
<script>${js}</script>
</body>
</html>
`;
}
