/**
 * `npm run bench:dashboard-vscode`: how long a long run's dashboard takes to open in real VS Code
 * (code-server + Chromium, the e2e harness; needs `bash scripts/setup-e2e.sh`). A completed run
 * with 3 methods × 3 seeds × 50,000 logged steps, each series with its own noise (and its
 * metrics.cols and metrics.view.json, as the run store leaves it), is opened with "AFT: Show
 * Dashboard" three times (a fresh profile: the first open has no remembered chart width). The
 * clock runs from choosing the run in the quick pick to the first screen on screen (header and
 * four charts), and to the frame after it with everything (the other charts, ρ, results), from
 * the page's own clock. Writes bench-results/dashboard-vscode.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { FrameLocator } from 'playwright-core';
import { MNIST_DEMO } from '../../core/node/experiment/templates';
import { launchStudio, ROOT, runCommand, until } from '../../test/e2e/harness';
import { syntheticRun } from './synthetic';

const { values: args } = parseArgs({
  options: { steps: { type: 'string', default: '50000' }, repeats: { type: 'string', default: '3' } },
});
const steps = Number(args.steps);

async function main(): Promise<void> {
  const run = syntheticRun({ steps, methods: ['stl', 'kd', 'aft'], seeds: [0, 1, 2], rhoFeatures: 512 });
  const mib = fs.statSync(path.join(run, 'metrics.jsonl')).size / 2 ** 20;
  const studio = await launchStudio({ 'demo.aft.yaml': MNIST_DEMO.text });
  const { page, workspace } = studio;
  const timings: {
    webviewRenderMs: number;
    pageStartMs: number;
    serviceWorkerWaitMs: number;
    readyMs: number;
    runArrivedMs: number;
    renderedMs: number;
    drawnMs: number;
    paintedMs: number;
    allPaintedMs: number;
  }[] = [];
  try {
    fs.cpSync(run, path.join(workspace, '.aft', 'runs', 'bench-run'), { recursive: true });
    const web = (): FrameLocator => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    // Activate the extension as a user would, and wait until its Runs view lists the run.
    await page
      .locator('.explorer-folders-view .monaco-list-row', { hasText: 'demo.aft.yaml' })
      .first()
      .click({ timeout: 30_000 });
    await page.locator('.activitybar .action-item a[aria-label^="AFT Studio"]').first().click({ timeout: 30_000 });
    const rows = page
      .locator('.pane', { has: page.locator('.pane-header', { hasText: /^\s*Runs/ }) })
      .locator('.monaco-list-row');
    await rows.filter({ hasText: 'bench' }).first().waitFor({ timeout: 60_000 });
    for (let i = 0; i < Number(args.repeats); i++) {
      await runCommand(page, 'View: Close All Editors');
      await runCommand(page, 'AFT: Show Dashboard');
      await page.locator('.quick-input-widget input').fill('bench-run');
      await page
        .locator('.quick-input-list .monaco-list-row', { hasText: 'bench-run' })
        .first()
        .waitFor({ timeout: 10_000 });
      const t0 = Date.now();
      await page.keyboard.press('Enter');
      // Nothing polls the page while it opens (a query into the webview every 100 ms slowed the
      // open it measured); the page's own clock says when each stage happened.
      await page.waitForTimeout(4000);
      // Every series of every metric chart (9 lines in each of the five loss/accuracy charts), and
      // the frame after the first screen's (app.ts `renderWhole`) on screen.
      await until(
        'every curve drawn',
        async () => {
          const n = await web()
            .locator('body[data-all-painted-at]')
            .evaluate(() =>
              [...document.querySelectorAll('.uplot')].map((u) => u.querySelectorAll('.u-legend .u-series').length),
            )
            .catch(() => [] as number[]);
          return n.filter((k) => k >= 10).length >= 5;
        },
        60_000,
      );
      const webviewRenderMs = Number(await web().locator('body').getAttribute('data-render-ms'));
      // Where the time went, from the page's own clock (epoch ms): VS Code creating the webview's
      // document, our script loaded and run, the first render of the run's data.
      const page0 = await web()
        .locator('body')
        .evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
          const d = document.body.dataset;
          return {
            origin: performance.timeOrigin,
            workerStart: nav ? nav.workerStart : NaN,
            readyAt: Number(d.readyAt),
            runAt: Number(d.runAt),
            renderedAt: Number(d.renderedAt),
            paintedAt: Number(d.paintedAt),
            drawnAt: Number(d.drawnAt),
            allPaintedAt: Number(d.allPaintedAt),
            parts: d.renderParts ?? '',
          };
        });
      const pageStartMs = Math.round(page0.origin - t0);
      // VS Code's webview document first loads an empty page through its service worker, then
      // writes ours into it. On a reopen in code-server, that request waits about a second for
      // the service worker (registered anew for each webview) before any of our code runs.
      const serviceWorkerWaitMs = Math.round(page0.workerStart);
      const renderedMs = Math.round(page0.renderedAt - t0);
      const drawnMs = Math.round(page0.drawnAt - t0);
      const paintedMs = Math.round(page0.paintedAt - t0);
      const allPaintedMs = Math.round(page0.allPaintedAt - t0);
      const readyMs = Math.round(page0.readyAt - t0);
      const runArrivedMs = Math.round(page0.runAt - t0);
      timings.push({
        webviewRenderMs,
        pageStartMs,
        serviceWorkerWaitMs,
        readyMs,
        runArrivedMs,
        renderedMs,
        drawnMs,
        paintedMs,
        allPaintedMs,
      });
      console.log(
        `open ${steps} steps × 9 series (${mib.toFixed(0)} MiB metrics.jsonl) in VS Code: first screen (header, 4 charts) on screen at ${paintedMs} ms, everything (6 charts, ρ, results) at ${allPaintedMs} ms. ` +
          `Webview document started at ${pageStartMs} ms (its first request waited ${serviceWorkerWaitMs} ms for VS Code's service worker), ready sent at ${readyMs} ms, the run arrived at ${runArrivedMs} ms, first render done at ${renderedMs} ms (render ${webviewRenderMs} ms: ${page0.parts}), curves drawn at ${drawnMs} ms`,
      );
    }
    await studio.shot('bench-dashboard-vscode');
  } finally {
    await studio.close();
    fs.rmSync(path.dirname(run), { recursive: true, force: true });
  }
  const out = path.join(ROOT, 'bench-results', 'dashboard-vscode.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), steps, series: 9, mib: Math.round(mib), timings }, null, 2) + '\n',
  );
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
