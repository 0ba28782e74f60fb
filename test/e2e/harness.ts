/**
 * Real VS Code for end-to-end tests: code-server (VS Code 1.100 with a real Node extension
 * host, installed by scripts/setup-e2e.sh) driven by Debian's Chromium through playwright-core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CODE_SERVER_VERSION = '4.100.3';
export const CHROMIUM = process.env.AFT_E2E_CHROMIUM ?? '/usr/bin/chromium';

/** The tools folder scripts/setup-e2e.sh fills (same key), or undefined when it has not run. */
export function toolsDir(): string | undefined {
  const key = `code-server-${CODE_SERVER_VERSION}-node${process.versions.modules}`;
  const dir = process.env.AFT_E2E_TOOLS ?? path.join(process.env.AFT_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'aft-e2e-tools'), key);
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
  const r = spawnSync(process.execPath, [codeServerEntry(tools), '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`installing ${vsix} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

export async function startCodeServer(tools: string, dirs: { userDataDir: string; extensionsDir: string; workspace: string }, env: Record<string, string> = {}): Promise<CodeServer> {
  const port = await freePort();
  const config = path.join(dirs.userDataDir, 'code-server.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  const child = spawn(
    process.execPath,
    [codeServerEntry(tools), '--config', config, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', dirs.userDataDir, '--extensions-dir', dirs.extensionsDir, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', dirs.workspace],
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
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${url}?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  return { browser, page };
}

/** Runs a command from the command palette by its title, as a user does. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** Opens a workspace file with Quick Open (the palette without its `>`), and waits until it is the active editor. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator(`.tab.active[aria-label*="${name}"]`).first().waitFor({ timeout: 10_000 });
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
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => re.test(path.basename(f))).map((f) => path.join(dir, f));
}
