/**
 * The webview bundles in headless Chromium, outside VS Code: the HTML report as a file, or the
 * dashboard page with a stand-in for `acquireVsCodeApi` wired to a real `DashboardSession` in
 * this Node process (the same host code the extension runs). Used by the integration tests and
 * the benchmarks; VS Code itself is covered by test/e2e.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DashboardSession, type SessionOptions } from '../../extension/src/dashboard/session';
import { nonce, readBundle, webviewHtml } from '../../extension/src/dashboard/html';
import {
  parseWebviewMessage,
  type HostMessage,
  type WebviewApp,
  type WebviewMessage,
} from '../../core/common/protocol/webview';
import { TableSession, type TableSessionOptions } from '../../extension/src/table/session';

export const CHROMIUM = process.env.AFT_E2E_CHROMIUM ?? '/usr/bin/chromium';
export const ROOT = path.resolve(__dirname, '..', '..');
export const WEBVIEWS_DIST = path.join(ROOT, 'dist', 'webviews');

export function chromiumAvailable(): boolean {
  return fs.existsSync(CHROMIUM);
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

export interface Watched {
  page: Page;
  /** Page errors, console errors and CSP violations, as text. */
  problems: string[];
}

/** A page that records errors and Content-Security-Policy violations. */
export async function watchedPage(
  browser: Browser,
  opts: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {},
): Promise<Watched> {
  const page = await browser.newPage({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
    colorScheme: opts.colorScheme ?? 'light',
    acceptDownloads: true,
  });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}${process.env.AFT_DEBUG ? `\n${e.stack}` : ''}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  await page.exposeFunction('__aftCsp', (v: string) => problems.push(`CSP violation: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener(
      'securitypolicyviolation',
      (e) =>
        void (window as unknown as { __aftCsp(v: string): Promise<void> }).__aftCsp(
          `${e.violatedDirective} ${e.blockedURI}`,
        ),
    );
  });
  return { page, problems };
}

/** Waits until the app has rendered at least `n` times (`body[data-rendered]`). */
export async function rendered(page: Page, n = 1, timeout = 15_000): Promise<void> {
  await page.waitForFunction((k) => Number(document.body.dataset.rendered ?? 0) >= k, n, { timeout });
}

/** A few of VS Code's Dark Modern theme colours, as VS Code sets them on a webview. */
const DARK_MODERN: Record<string, string> = {
  'font-family': 'system-ui, sans-serif',
  'font-size': '13px',
  'editor-background': '#1f1f1f',
  'editor-foreground': '#cccccc',
  foreground: '#cccccc',
  descriptionForeground: '#9d9d9d',
  'panel-border': '#2b2b2b',
  'widget-border': '#313131',
  'editorWidget-background': '#202020',
  'sideBar-background': '#181818',
  'sideBarSectionHeader-background': '#181818',
  'button-background': '#0078d4',
  'button-foreground': '#ffffff',
  'button-secondaryBackground': '#313131',
  'button-secondaryForeground': '#cccccc',
  'badge-background': '#616161',
  'badge-foreground': '#f8f8f8',
  'charts-foreground': '#cccccc',
  'charts-lines': 'rgba(204, 204, 204, 0.5)',
  'charts-blue': '#3794ff',
  'charts-red': '#f14c4c',
  'charts-green': '#89d185',
  'charts-yellow': '#cca700',
  'charts-orange': '#d18616',
  'charts-purple': '#b180d7',
  errorForeground: '#f85149',
};

export interface LiveDashboard extends Watched {
  /** Creates the host session (done at once unless `deferSession`). */
  start(): DashboardSession;
  /** Resolves once the page has sent `ready`. */
  whenReady(): Promise<void>;
  /**
   * Resolves once `until()` holds for what the host sent and the page received (polled), every
   * message sent has reached the page, and the page has drawn all of them (renders coalesce, so
   * this waits for what was drawn, not for a number of renders).
   */
  settled(until?: () => boolean, timeoutMs?: number): Promise<void>;
  /** Every message the host sent, in order. */
  sent: HostMessage[];
  /** Every message the page sent, in order (validated as the panel validates them). */
  received: WebviewMessage[];
  close(): Promise<void>;
}

/**
 * The dashboard page as VS Code would show it (same HTML and CSP, the bundle from dist/webviews),
 * its host a `DashboardSession` on `runDir`.
 */
export async function openLiveDashboard(
  browser: Browser,
  runDir: string,
  opts: SessionOptions & {
    colorScheme?: 'light' | 'dark';
    width?: number;
    deferSession?: boolean;
    loseEarlyMessages?: boolean;
  } = {},
): Promise<LiveDashboard> {
  const w = await watchedPage(browser, {
    ...(opts.colorScheme ? { colorScheme: opts.colorScheme } : {}),
    ...(opts.width ? { width: opts.width } : {}),
  });
  const { page } = w;
  const sent: HostMessage[] = [];
  const received: WebviewMessage[] = [];
  // Like VS Code, messages posted while the page loads are held and handed over once it has.
  let loaded!: () => void;
  let chain: Promise<unknown> = new Promise<void>((r) => (loaded = r));
  // The `run` and `update` messages handed to the page: each is drawn by a later whole render.
  let delivered = 0;
  const post = (m: HostMessage): void => {
    sent.push(m);
    // A webview host that drops what was posted before the page said `ready` (tests the retry).
    if (opts.loseEarlyMessages && !pageReady) return;
    if (m.type === 'run' || m.type === 'update') delivered++;
    // One at a time, in order, like VS Code's postMessage; as JSON text, which crosses the
    // DevTools protocol far faster than Playwright's value-by-value argument encoding.
    const json = JSON.stringify(m);
    chain = chain
      .then(() => page.evaluate((text) => window.postMessage(JSON.parse(text), '*'), json))
      .catch(() => undefined);
  };
  let session: DashboardSession | undefined;
  let pageReady = false;
  let chartPoints: number | undefined;
  const start = (): DashboardSession => {
    session = new DashboardSession(runDir, post, opts);
    if (pageReady) session.onReady(chartPoints);
    return session;
  };
  // As the panel (extension/src/dashboard/panel.ts) takes the page's messages.
  await page.exposeFunction('__aftToHost', (raw: unknown) => {
    const r = parseWebviewMessage(raw);
    if (!r.ok) throw new Error(`the page sent a bad message: ${r.error}`);
    const m = r.message;
    received.push(m);
    if (m.type === 'chartPoints') session?.onChartPoints(m.points);
    if (m.type !== 'ready') return;
    pageReady = true;
    chartPoints = m.chartPoints;
    session?.onReady(chartPoints);
  });
  // The session may post the run before the page's `ready`: it is held until the page has loaded.
  if (!opts.deferSession) start();
  const dir = await loadApp(page, 'dashboard');
  loaded();
  return {
    ...w,
    sent,
    received,
    start,
    whenReady: async () => {
      while (!pageReady) await new Promise((r) => setTimeout(r, 5));
    },
    settled: async (until = () => true, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!until()) {
        if (Date.now() > deadline)
          throw new Error(
            `the dashboard did not reach the expected state in ${timeoutMs / 1000} s (host sent ${sent.map((m) => m.type).join(', ')}; page sent ${received.map((m) => m.type).join(', ')})`,
          );
        await new Promise((r) => setTimeout(r, 10));
      }
      await chain;
      await page.waitForFunction((k) => Number(document.body.dataset.drawnMessages ?? -1) >= k, delivered, {
        timeout: Math.max(1000, deadline - Date.now()),
      });
    },
    close: async () => {
      session?.dispose();
      await chain;
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Loads an app's page as VS Code would show it (same HTML and CSP, the bundle from dist/webviews),
 * with a stand-in `acquireVsCodeApi` whose messages go to the page's exposed `__aftToHost` and
 * VS Code's theme variables; returns the temporary folder of the page (removed by the caller).
 */
async function loadApp(page: Page, app: WebviewApp): Promise<string> {
  // A string, not a function: tsx's transform would add helpers the page does not have.
  await page.addInitScript({
    content: `window.acquireVsCodeApi = () => ({
      postMessage: (m) => void window.__aftToHost(m),
      getState: () => window.__aftState,
      setState: (s) => { window.__aftState = s; },
    });`,
  });
  // What VS Code does for every webview: its theme's colours as CSS variables on <html> and the
  // theme kind as a class on <body> (values of the Dark Modern theme).
  await page.addInitScript({
    content: `(() => {
      const vars = ${JSON.stringify(DARK_MODERN)};
      const apply = () => {
        for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty('--vscode-' + k, v);
      };
      if (document.documentElement) apply();
      else new MutationObserver((_, o) => { if (document.documentElement) { o.disconnect(); apply(); } }).observe(document, { childList: true });
      document.addEventListener('DOMContentLoaded', () => document.body.classList.add('vscode-dark'));
    })();`,
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-webview-'));
  const html = webviewHtml({ cspSource: 'file:', nonce: nonce(), bundle: readBundle(WEBVIEWS_DIST, app), title: app });
  fs.writeFileSync(path.join(dir, 'index.html'), html);
  await page.goto(pathToFileURL(path.join(dir, 'index.html')).href);
  return dir;
}

export interface LiveTable extends Watched {
  session: TableSession;
  /** Every message the host sent, in order. */
  sent: HostMessage[];
  /** Every message the page sent, in order (validated as the panel validates them). */
  received: WebviewMessage[];
  /** Resolves once every message sent has reached the page and it has drawn at least `renders` times. */
  settled(renders?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The experiments table page with a real `TableSession` on these workspace folders as its host
 * (messages handled as extension/src/dashboard/panel.ts handles them; `openRuns` is recorded).
 */
export async function openLiveTable(
  browser: Browser,
  workspaceDirs: string[],
  opts: TableSessionOptions & { width?: number; height?: number } = {},
): Promise<LiveTable> {
  const w = await watchedPage(browser, { width: opts.width ?? 1400, height: opts.height ?? 900 });
  const { page } = w;
  const sent: HostMessage[] = [];
  const received: WebviewMessage[] = [];
  // Like VS Code, messages posted while the page loads are held and handed over once it has.
  let loaded!: () => void;
  let chain: Promise<unknown> = new Promise<void>((r) => (loaded = r));
  const session = new TableSession(
    () => workspaceDirs,
    (m) => {
      sent.push(m);
      const json = JSON.stringify(m);
      chain = chain
        .then(() => page.evaluate((text) => window.postMessage(JSON.parse(text), '*'), json))
        .catch(() => undefined);
    },
    opts,
  );
  await page.exposeFunction('__aftToHost', (raw: unknown) => {
    const r = parseWebviewMessage(raw);
    if (!r.ok) throw new Error(`the page sent a bad message: ${r.error}`);
    received.push(r.message);
    if (r.message.type === 'ready') session.onReady();
    if (r.message.type === 'refresh') session.onRefresh();
  });
  const dir = await loadApp(page, 'table');
  loaded();
  return {
    ...w,
    session,
    sent,
    received,
    settled: async (renders = 1) => {
      await chain;
      await rendered(page, renders);
    },
    close: async () => {
      session.dispose();
      await chain;
      await page.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Distinct colours and non-background pixels of a canvas (is it blank?). */
export async function canvasInk(
  page: Page,
  selector: string,
): Promise<{ colors: number; inked: number; width: number; height: number }> {
  return page.$eval(selector, (el) => {
    const c = el as HTMLCanvasElement;
    const ctx = c.getContext('2d');
    if (!ctx || !c.width || !c.height) return { colors: 0, inked: 0, width: c.width, height: c.height };
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const bg = `${d[0]},${d[1]},${d[2]},${d[3]}`;
    const colors = new Set<string>();
    let inked = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      const k = `${d[i]},${d[i + 1]},${d[i + 2]},${d[i + 3]}`;
      colors.add(k);
      if (k !== bg) inked++;
    }
    return { colors: colors.size, inked, width: c.width, height: c.height };
  });
}
