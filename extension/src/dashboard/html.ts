/**
 * The HTML a dashboard or comparison webview starts from: the bundled app's script and
 * stylesheet from dist/webviews, inline, under a Content-Security-Policy that allows exactly the
 * elements carrying this page's nonce and nothing else: no other inline or remote script, no
 * eval, no network. Inline, not loaded by URI: in VS Code a webview's resources come through its
 * service worker and the extension host, and loading the 190 KB script that way took ~170 ms of
 * a dashboard's first open (bench:dashboard-vscode). Nothing from a run is ever in this HTML.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { appPage, inlineSafe } from '../../../core/node/html/page';
import type { WebviewApp } from '../../../core/common/protocol/webview';

export function nonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

export interface WebviewPage {
  /** `webview.cspSource` (images the app makes, such as exports, are data: or blob: URIs). */
  cspSource: string;
  nonce: string;
  /** The app's bundle (`readBundle`). */
  bundle: Bundle;
  title: string;
}

export interface Bundle {
  js: string;
  css: string;
}

const bundles = new Map<string, { mtimeMs: number; bundle: Bundle }>();

/**
 * dist/webviews/<app>.js and .css, made safe to inline; read again only when the script changes
 * (a rebuild while the extension runs).
 */
export function readBundle(dir: string, app: WebviewApp): Bundle {
  const js = path.join(dir, `${app}.js`);
  const mtimeMs = fs.statSync(js).mtimeMs;
  const known = bundles.get(js);
  if (known && known.mtimeMs === mtimeMs) return known.bundle;
  const bundle = {
    js: inlineSafe(fs.readFileSync(js, 'utf8'), 'script'),
    css: inlineSafe(fs.readFileSync(path.join(dir, `${app}.css`), 'utf8'), 'style'),
  };
  bundles.set(js, { mtimeMs, bundle });
  return bundle;
}

export function contentSecurityPolicy(cspSource: string, nonceValue: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonceValue}'`,
    `style-src ${cspSource} 'nonce-${nonceValue}'`,
    `img-src ${cspSource} data: blob:`,
    `font-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function webviewHtml(p: WebviewPage): string {
  return appPage({
    title: p.title,
    csp: contentSecurityPolicy(p.cspSource, p.nonce),
    js: p.bundle.js,
    css: p.bundle.css,
    nonce: p.nonce,
  });
}
