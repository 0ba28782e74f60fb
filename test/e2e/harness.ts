/**
 * Real VS Code for end-to-end tests: code-server (VS Code 1.100 with a real Node extension
 * host, installed by scripts/setup-e2e.sh) driven by Debian's Chromium through playwright-core.
 * `launchStudio` is the whole setup a test file needs: the packaged .vsix installed into a
 * fresh profile, a workspace with the given files, code-server, and the workbench in Chromium.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';
import * as zlib from 'node:zlib';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';

export const CODE_SERVER_VERSION = '4.100.3';
export const CHROMIUM = process.env.AFT_E2E_CHROMIUM ?? '/usr/bin/chromium';
export const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** Where the screenshots go. */
export const SHOTS = path.join(ROOT, 'test-results', 'e2e');

/** The completed run checked in as a fixture (test/fixtures/runs). */
export const FIXTURE_ID = 'mnist-demo-20261127-083207-s1o1';
export const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'runs', FIXTURE_ID);

/** The fixture run's files (all text) under `.aft/runs/<runId>/`, with `runId` rewritten for a copy. */
export function fixtureRun(runId: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const rel of fs.readdirSync(FIXTURE, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(FIXTURE, rel);
    if (!fs.statSync(file).isFile()) continue;
    let text = fs.readFileSync(file, 'utf8');
    if (runId !== FIXTURE_ID && (rel === 'status.json' || rel === 'summary.json')) {
      const json = JSON.parse(text) as { runId: string };
      assert.equal(json.runId, FIXTURE_ID, `${rel} names the fixture run`);
      text = JSON.stringify({ ...json, runId }, null, 2);
    }
    files[path.posix.join('.aft', 'runs', runId, rel.split(path.sep).join('/'))] = text;
  }
  return files;
}
export const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  publisher: string;
};
export const VSIX = path.join(ROOT, `${PKG.name}-${PKG.version}.vsix`);
/** `skip` for the e2e suites: AFT_SKIP_E2E=1 skips them. */
export const E2E_SKIP = process.env.AFT_SKIP_E2E === '1' ? 'AFT_SKIP_E2E=1' : false;

/** The tools folder scripts/setup-e2e.sh fills (same key), or undefined when it has not run. */
export function toolsDir(): string | undefined {
  const key = `code-server-${CODE_SERVER_VERSION}-node${process.versions.modules}`;
  const dir =
    process.env.AFT_E2E_TOOLS ??
    path.join(process.env.AFT_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'aft-e2e-tools'), key);
  return fs.existsSync(path.join(dir, '.complete')) ? dir : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface CodeServer {
  url: string;
  userDataDir: string;
  extensionsDir: string;
  process: ChildProcess;
  log: string[];
  stop(): Promise<void>;
}

export function codeServerEntry(tools: string): string {
  return path.join(tools, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

/** Installs a .vsix the way a user does (`--install-extension`). */
export function installExtension(tools: string, vsix: string, userDataDir: string, extensionsDir: string): string {
  const r = spawnSync(
    process.execPath,
    [
      codeServerEntry(tools),
      '--user-data-dir',
      userDataDir,
      '--extensions-dir',
      extensionsDir,
      '--install-extension',
      vsix,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) throw new Error(`installing ${vsix} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

/**
 * Starts code-server on a free port. Workspace trust is off (`--disable-workspace-trust`, every
 * folder trusted) unless `options.workspaceTrust` is true.
 */
export async function startCodeServer(
  tools: string,
  dirs: { userDataDir: string; extensionsDir: string; workspace: string },
  env: Record<string, string> = {},
  options: { workspaceTrust?: boolean } = {},
): Promise<CodeServer> {
  const port = await freePort();
  const config = path.join(dirs.userDataDir, 'code-server.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  const trust = options.workspaceTrust ? [] : ['--disable-workspace-trust'];
  const child = spawn(
    process.execPath,
    [
      codeServerEntry(tools),
      '--config',
      config,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      dirs.userDataDir,
      '--extensions-dir',
      dirs.extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      ...trust,
      dirs.workspace,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  const onData = (b: Buffer): void => void log.push(...b.toString('utf8').split('\n').filter(Boolean));
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${log.join('\n')}`);
    try {
      const res = await fetch(url, { redirect: 'manual' });
      if (res.status < 500) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`code-server did not start:\n${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    ...dirs,
    process: child,
    log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export async function openWorkbench(url: string, workspace: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${url}?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  return { browser, page };
}

/**
 * Runs a command from the command palette by its title, as a user does. Right after launch the
 * palette may not list an extension's commands yet (its manifest is still being read), so a
 * missing entry is retried a few times before the test fails.
 */
/** The shown webview's page (VS Code nests it in two iframes). */
export function activeWebview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

/** The AFT Studio sidebar's Runs view. */
export function runsPane(page: Page): Locator {
  return page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^\s*Runs/ }) });
}

/** Collects the Content Security Policy violations the page reports on its console (the list fills as they come). */
export function consoleCspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content[ -]Security[ -]Policy|Refused to (load|execute|apply|connect|frame)/i.test(m.text()))
      seen.push(m.text());
  });
  return seen;
}

export async function runCommand(page: Page, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ timeout: 10_000 });
      await page.keyboard.press('Enter');
      return;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

/**
 * Opens a workspace file with Quick Open (the palette without its `>`), and waits until it is
 * the active editor. Quick Open finds files through a ripgrep search that can lag behind a
 * freshly opened workspace on a loaded machine, so it retries before giving up.
 */
export async function openFile(page: Page, name: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(name);
    try {
      await row.waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await page.locator(`.tab.active[aria-label*="${name}"]`).first().waitFor({ timeout: 10_000 });
      return;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

/** Process ids whose command line contains `needle` (the sidecar of this test's install). */
export function pidsMatching(needle: string): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Files under `dir` whose name matches `re` (the extension's log in code-server's logs). */
export function findFiles(dir: string, re: RegExp): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => re.test(path.basename(f)))
    .map((f) => path.join(dir, f));
}

/** What goes into the .vsix (scripts/package.mjs); a .vsix newer than all of it is current. */
const PACKAGE_INPUTS = [
  'package.json',
  'scripts/package.mjs',
  'dist/extension',
  'dist/sidecar/server.js',
  'dist/language-server',
  'dist/webviews',
  'syntaxes',
  'schemas',
  'extension/media',
  'extension/walkthrough',
  'extension/README.md',
];

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((n) => newestMtime(path.join(p, n))));
}

/**
 * Packages the extension (`npm run package`, which builds first) unless the .vsix is newer than
 * everything it is made of, so that e2e files run one after the other package once.
 * AFT_E2E_REPACKAGE=1 always packages.
 */
export function packageExtension(): string {
  const fresh =
    fs.existsSync(VSIX) &&
    process.env.AFT_E2E_REPACKAGE !== '1' &&
    fs.statSync(VSIX).mtimeMs > Math.max(...PACKAGE_INPUTS.map((p) => newestMtime(path.join(ROOT, p))));
  if (!fresh)
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs')], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  return VSIX;
}

export interface StudioSession {
  server: CodeServer;
  browser: Browser;
  page: Page;
  workspace: string;
  /** The installed extension's folder (`<publisher>.<name>-<version>[-<target>]`). */
  extensionDir: string;
  /** Saves a screenshot of the workbench as test-results/e2e/<name>.png and returns its path. */
  shot(name: string): Promise<string>;
  /** Closes the browser and code-server, and kills whatever the installed extension left running. */
  close(): Promise<void>;
  /**
   * What the workbench shows and logged, for a failure's message: notifications, the webview
   * frames, the page's console errors, and the ends of the extension's and extension host's logs.
   */
  diagnose(): Promise<string>;
  /** The AFT Studio log (the extension's output channel) so far. */
  extensionLog(): string;
}

/**
 * Runs a test's body; if it fails, adds `studio.diagnose()` to the error, so that a failure in
 * CI (where only the test runner's output is kept) says what the workbench showed at the time.
 */
export async function diagnosed<T>(studio: StudioSession | undefined, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    const found = studio
      ? await studio.diagnose().catch((d: unknown) => `(diagnosis failed: ${String(d)})`)
      : '(no studio)';
    if (e instanceof Error) {
      e.message = `${e.message}\n--- at the failure ---\n${found}`;
      throw e;
    }
    throw new Error(`${String(e)}\n--- at the failure ---\n${found}`);
  }
}

/** `it` for a suite whose tests share `studio()`: a failing test's error says what the workbench showed (`diagnosed`). */
export function diagnosedIt(
  studio: () => StudioSession | undefined,
): (name: string, body: () => void | Promise<void>) => void {
  return (name, body) => {
    void it(name, () =>
      diagnosed(studio(), async () => {
        await body();
      }),
    );
  };
}

/** The newest file named `name` under `dir` (code-server's log folders are per start). */
function newestFile(dir: string, name: string): string | undefined {
  let best: { file: string; mtime: number } | undefined;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === name) {
        const mtime = fs.statSync(p).mtimeMs;
        if (!best || mtime > best.mtime) best = { file: p, mtime };
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return best?.file;
}

const tail = (text: string, lines: number): string => text.trimEnd().split('\n').slice(-lines).join('\n');

const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'update.mode': 'none',
  'workbench.enableExperiments': false,
};

/**
 * User settings for an untrusted workspace: workspace trust on, and the folder opened in
 * Restricted Mode without the startup modal (which would block the workbench until answered).
 */
const UNTRUSTED_SETTINGS = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.emptyWindow': false,
};

export interface StudioOptions {
  /**
   * false: code-server runs with workspace trust on (no `--disable-workspace-trust`) and the
   * workspace opens untrusted, in Restricted Mode. Default true: trust is off, everything trusted.
   */
  trusted?: boolean;
}

/**
 * Packages and installs the extension into a fresh profile, writes `files` (name → text) into a
 * fresh workspace, and opens it in code-server in Chromium.
 */
/** A suite's end: a last screenshot (of whatever state a failure left), code-server closed, the suite's wall time. */
export async function endStudio(
  studio: StudioSession | undefined,
  lastShot: string,
  label: string,
  t0: number,
): Promise<void> {
  if (studio) {
    await studio.shot(lastShot).catch(() => undefined);
    // Said even when every test passed: a webview that had to be loaded again is worth knowing.
    const webviewRetries = studio
      .extensionLog()
      .split('\n')
      .filter((l) => /webview .* (sent no ready|did not start)/.test(l));
    if (webviewRetries.length)
      console.log(`${label}: webviews reloaded by the ready watchdog:\n${webviewRetries.join('\n')}`);
    await studio.close();
  }
  console.log(`${label} wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

export async function launchStudio(
  files: Record<string, string>,
  settings: Record<string, unknown> = {},
  options: StudioOptions = {},
): Promise<StudioSession> {
  const trusted = options.trusted ?? true;
  const tools = toolsDir();
  assert.ok(
    tools,
    'the e2e tools are missing: run `bash scripts/setup-e2e.sh` (after `apt-get install -y chromium ripgrep libkrb5-dev pkg-config`), or set AFT_SKIP_E2E=1',
  );
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  fs.mkdirSync(SHOTS, { recursive: true });
  const vsix = packageExtension();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-e2e-'));
  if (process.env.AFT_E2E_KEEP === '1') console.log(`e2e profile, logs and workspace (kept): ${base}`);
  const workspace = path.join(base, 'workspace');
  const userDataDir = path.join(base, 'user-data');
  const extensionsDir = path.join(base, 'extensions');
  fs.mkdirSync(workspace);
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(workspace, name)), { recursive: true });
    fs.writeFileSync(path.join(workspace, name), text);
  }
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...SETTINGS, ...(trusted ? {} : UNTRUSTED_SETTINGS), ...settings }),
  );
  installExtension(tools, vsix, userDataDir, extensionsDir);
  const installed = fs
    .readdirSync(extensionsDir)
    .find((d) => d.startsWith(`${PKG.publisher}.${PKG.name}-${PKG.version}`));
  assert.ok(installed, `the extension is installed in ${extensionsDir}`);
  const server = await startCodeServer(
    tools,
    { userDataDir, extensionsDir, workspace },
    {},
    { workspaceTrust: !trusted },
  );
  let opened: { browser: Browser; page: Page };
  try {
    opened = await openWorkbench(server.url, workspace);
  } catch (e) {
    await server.stop();
    throw e;
  }
  const { browser, page } = opened;
  // The page's console errors (the workbench's and the webviews'), the last 30.
  const consoleErrors: string[] = [];
  const keep = (line: string): void => {
    consoleErrors.push(line.slice(0, 400));
    if (consoleErrors.length > 30) consoleErrors.shift();
  };
  page.on('console', (m) => m.type() === 'error' && keep(`console: ${m.text()}`));
  page.on('pageerror', (e) => keep(`page error: ${e.message}`));
  const logs = path.join(userDataDir, 'logs');
  const readLog = (name: string): string => {
    const file = newestFile(logs, name);
    return file ? fs.readFileSync(file, 'utf8') : '';
  };
  return {
    server,
    browser,
    page,
    workspace,
    extensionDir: path.join(extensionsDir, installed),
    shot: async (name) => {
      const file = path.join(SHOTS, `${name}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    extensionLog: () => readLog('AFT Studio.log'),
    diagnose: async () => {
      const notes = await page
        .locator('.notification-list-item-message')
        .allInnerTexts()
        .catch(() => []);
      const frames = await page
        .locator('iframe.webview')
        .evaluateAll((els) =>
          els.map((e) => `${e.className}${(e as HTMLElement).offsetParent === null ? ' (hidden)' : ''}`),
        )
        .catch((e: unknown) => [`(could not list: ${String(e)})`]);
      const inner = await activeWebview(page)
        .locator('body')
        .evaluate(
          (b) =>
            `data: ${JSON.stringify({ ...b.dataset })}; ${(b as HTMLElement).innerText.replace(/\s+/g, ' ').slice(0, 300)}`,
          undefined,
          { timeout: 2000 },
        )
        .catch((e: unknown) => `(no webview body: ${String(e).split('\n')[0]})`);
      // Every frame of the page (the workbench, each webview's host page and its content frames),
      // with its state: a webview whose content frame never loads shows up here.
      const frames2 = await Promise.all(
        page.frames().map(async (f) => {
          const url = f.url().replace(/^(.{0,90}).*$/, '$1');
          const state = await Promise.race([
            f.evaluate(
              () =>
                `${document.readyState}; ${[...document.querySelectorAll('iframe')].map((i) => `iframe#${i.id || '-'}`).join(' ') || 'no iframes'}; body: ${(document.body?.innerText ?? '').replace(/\s+/g, ' ').slice(0, 80)}`,
            ),
            new Promise<string>((r) => setTimeout(() => r('(no answer in 1 s)'), 1000)),
          ]).catch((e: unknown) => `(${String(e).split('\n')[0]})`);
          return `${f.name() || '-'} ${url}: ${state}`;
        }),
      );
      const shot = await page
        .screenshot({ path: path.join(SHOTS, `failure-${Date.now()}.png`) })
        .then(() => 'saved')
        .catch(() => 'failed');
      const hostErrors = readLog('remoteexthost.log')
        .split('\n')
        .filter((l) => /\[error\]/.test(l))
        .slice(-8);
      return [
        `notifications: ${notes.length ? notes.join(' | ') : 'none'}`,
        `webview iframes: ${frames.length ? frames.join(', ') : 'none'}`,
        `active webview body: ${inner}`,
        `frames:\n${frames2.join('\n')}`,
        `screenshot: ${shot} in ${SHOTS}`,
        `console errors (last 10):\n${consoleErrors.slice(-10).join('\n') || 'none'}`,
        `extension host errors:\n${hostErrors.join('\n') || 'none'}`,
        `AFT Studio log (last 25 lines):\n${tail(readLog('AFT Studio.log'), 25)}`,
      ].join('\n');
    },
    close: async () => {
      await browser.close().catch(() => undefined);
      await server.stop();
      // Nothing of a test may outlive it: code-server stops its extension host, and the sidecar
      // and the language server exit when it does (about a second later). Whatever is still
      // running after 5 s is killed, and said.
      const deadline = Date.now() + 5000;
      while (pidsMatching(extensionsDir).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const left = pidsMatching(extensionsDir);
      if (left.length) console.log(`killing what outlived code-server by 5 s: ${left.join(', ')}`);
      for (const pid of left) process.kill(pid, 'SIGKILL');
      // AFT_E2E_KEEP=1 keeps the profile (logs included) and the workspace.
      if (process.env.AFT_E2E_KEEP !== '1') fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * How many different colours a PNG screenshot has (1 for a blank one). Decodes what Chromium
 * writes: 8-bit greyscale/RGB/RGBA, not interlaced.
 */
export function distinctColours(png: string): number {
  const buf = fs.readFileSync(png);
  assert.equal(buf.subarray(1, 4).toString('latin1'), 'PNG', `${png} is a PNG`);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < buf.length;) {
    const len = buf.readUInt32BE(at);
    const type = buf.subarray(at + 4, at + 8).toString('latin1');
    const body = buf.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.equal(body[8], 8, 'bit depth 8');
      assert.equal(body[12], 0, 'not interlaced');
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[body[9]] ?? 0;
      assert.ok(channels, `colour type ${body[9]}`);
    } else if (type === 'IDAT') idat.push(body);
    at += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  const colours = new Set<string>();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      cur[i] = (line[i] + predictor) & 0xff;
    }
    for (let x = 0; x < stride; x += channels) colours.add(cur.subarray(x, x + channels).toString('hex'));
    cur.copy(prev);
  }
  return colours.size;
}

/** Polls `check` until it returns a value other than undefined/false, or fails saying `what`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Focuses the active editor and puts the cursor at a 1-based line and column (Go to Line, Ctrl+G). */
export async function goTo(page: Page, line: number, column: number): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+1');
  await page.keyboard.press('Control+g');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`:${line}:${column}`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** One row of the Problems panel, read from its accessible label. */
export interface Problem {
  severity: string;
  message: string;
  line: number;
  column: number;
  source: string;
}

/** The problems the Problems panel lists now (it must be open), and each file row's count. */
export async function problemsShown(page: Page): Promise<{ problems: Problem[]; fileCounts: number[] }> {
  const labels = await page
    .locator('.markers-panel .monaco-list-row')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? ''));
  const problems: Problem[] = [];
  const fileCounts: number[] = [];
  for (const label of labels) {
    const file = /^(\d+) problems? in file /.exec(label);
    if (file) {
      fileCounts.push(Number(file[1]));
      continue;
    }
    const m = /^(Error|Warning|Info): ([\s\S]*) at line (\d+) and character (\d+)\. generated by (.*)$/.exec(label);
    if (!m) throw new Error(`a Problems row this harness cannot read: ${label}`);
    problems.push({
      severity: m[1].toLowerCase(),
      message: m[2],
      line: Number(m[3]),
      column: Number(m[4]),
      source: m[5],
    });
  }
  return { problems, fileCounts };
}
