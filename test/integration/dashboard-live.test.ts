/**
 * The dashboard of a run that is still being written, in headless Chromium with the real bundle
 * and the extension's host code (`DashboardSession`) reading the run folder: the curves grow as
 * metrics are appended, the heatmap appears when a ρ file lands, and the results when the run
 * completes. (In VS Code itself this is test/e2e's job.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, launch, openLiveDashboard, rendered, ROOT } from '../../webviews/harness/browser';
import { syntheticRun } from '../../webviews/bench/synthetic';
import { DEFAULT_MAX_POINTS } from '../../core/common/runs/curveViews';
import type { HostMessage, RunMessage } from '../../core/common/protocol/webview';

const fixture = path.join(ROOT, 'test', 'fixtures', 'runs', 'mnist-demo-20261127-083207-s1o1');
const shots = path.join(ROOT, 'test-results', 'report');

function status(dir: string, state: string): void {
  const s = JSON.parse(fs.readFileSync(path.join(fixture, 'status.json'), 'utf8')) as Record<string, unknown>;
  // As this process's own run, with a fresh heartbeat (a stale one reads as "stopped answering").
  const next = {
    ...s,
    state,
    pid: process.pid,
    host: os.hostname(),
    runId: path.basename(dir),
    updated: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, 'status.json.tmp'), JSON.stringify(next));
  fs.renameSync(path.join(dir, 'status.json.tmp'), path.join(dir, 'status.json'));
}

describe(
  'live dashboard in headless Chromium',
  { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium', timeout: 120_000 },
  () => {
    let browser: Browser;

    before(async () => {
      const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-webviews.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(build.status, 0, build.stderr);
      fs.mkdirSync(shots, { recursive: true });
      browser = await launch();
    });

    after(async () => {
      await browser?.close();
    });

    it('updates as the run writes metrics, ρ and its summary', async () => {
      const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-live-')), 'mnist-demo-live');
      fs.mkdirSync(dir);
      status(dir, 'running');
      const lines = fs.readFileSync(path.join(fixture, 'metrics.jsonl'), 'utf8').trim().split('\n');
      fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.slice(0, 5).join('\n') + '\n');

      const live = await openLiveDashboard(browser, dir, { pollMs: 50 });
      const { page } = live;
      try {
        await rendered(page);
        const stateBadge = (): Promise<string | null> => page.locator('[data-state]').getAttribute('data-state');
        assert.equal(await stateBadge(), 'running');
        const points = (): Promise<number> => page.$$eval('#chart-loss .u-legend .u-series', (els) => els.length);
        assert.equal(await points(), 1 + 1, 'one series so far (plus the x column)');

        // Stream the rest of the metrics in chunks, as a run would.
        for (let i = 5; i < lines.length; i += 20) {
          fs.appendFileSync(path.join(dir, 'metrics.jsonl'), lines.slice(i, i + 20).join('\n') + '\n');
          await new Promise((r) => setTimeout(r, 120));
        }
        await page.waitForFunction(
          () => document.querySelectorAll('#chart-loss .u-legend .u-series').length === 10,
          null,
          { timeout: 10_000 },
        );
        const updates = live.sent.filter((m) => m.type === 'update').length;
        assert.ok(updates >= 3, `${updates} updates while streaming`);

        assert.equal(await page.locator('canvas.heatmap').isVisible(), false, 'no ρ yet');
        fs.cpSync(path.join(fixture, 'rho'), path.join(dir, 'rho'), { recursive: true });
        await page.waitForFunction(
          () => document.querySelector<HTMLCanvasElement>('canvas.heatmap')?.dataset.cells === '512',
          null,
          { timeout: 10_000 },
        );

        fs.copyFileSync(path.join(fixture, 'summary.json'), path.join(dir, 'summary.json'));
        status(dir, 'completed');
        await page.waitForFunction(() => document.querySelectorAll('#chart-bars [data-bar]').length === 3, null, {
          timeout: 10_000,
        });
        assert.equal(await stateBadge(), 'completed');
        await page.screenshot({ path: path.join(shots, 'live-dashboard.png'), fullPage: true });

        // Reload: the webview asks again and gets the whole run; its UI state survives.
        await page.click('[data-toggle="log"]');
        const before = live.sent.filter((m) => m.type === 'run').length;
        await page.reload();
        await page.waitForFunction(() => document.querySelectorAll('#chart-bars [data-bar]').length === 3, null, {
          timeout: 10_000,
        });
        assert.equal(live.sent.filter((m) => m.type === 'run').length, before + 1);
        assert.deepEqual(live.problems, []);
      } finally {
        await live.close();
      }
    });

    it('shows the run when the one posted while the page loaded was lost: the page says ready again', async () => {
      const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-lost-')), path.basename(fixture));
      fs.cpSync(fixture, dir, { recursive: true });
      const live = await openLiveDashboard(browser, dir, { loseEarlyMessages: true });
      try {
        await rendered(live.page, 1, 10_000);
        const runs = live.sent.filter((m) => m.type === 'run');
        assert.equal(runs.length, 2, 'the early run (lost), then the one the second ready asked for');
        assert.equal(await live.page.$$eval('#chart-bars [data-bar]', (els) => els.length), 3);
        assert.deepEqual(live.problems, []);
      } finally {
        await live.close();
      }
    });

    it('is sent about one point per pixel of its charts: again, finer, when they are wider than what came first, or grow', async () => {
      const dir = syntheticRun({ steps: 3000, methods: ['stl', 'aft'], seeds: [0] });
      // Remembered from a narrower dashboard: 200 points per curve.
      const live = await openLiveDashboard(browser, dir, { maxPoints: 200, width: 1280 });
      const points = (m: HostMessage): number =>
        Math.max(...(m as RunMessage).run.series.map((x) => x.curves.loss.step.length));
      const runsSent = (): number => live.sent.filter((m) => m.type === 'run').length;
      try {
        // The early run, then the finer one `ready` asked for (a busy machine may deliver both
        // before the page's first frame: they are drawn once, so wait for what was drawn).
        await live.settled(() => runsSent() === 2);
        const ready = live.received.find((m) => m.type === 'ready');
        assert.ok(ready?.type === 'ready' && ready.chartPoints !== undefined, 'ready says what the charts draw');
        const chartWidth = await live.page.$eval(
          '#chart-loss .uplot',
          (el) => (el as HTMLElement).getBoundingClientRect().width,
        );
        // Measured before the page had content (and so a scroll bar): about the width, not exactly.
        assert.ok(
          Math.abs(ready.chartPoints / chartWidth - 1) < 0.05,
          `${ready.chartPoints} points for charts ${chartWidth} px wide`,
        );
        assert.deepEqual(live.sent.filter((m) => m.type === 'run').map(points), [200, ready.chartPoints]);

        // Twice as wide: the page asks again and gets the run finer.
        await live.page.setViewportSize({ width: 2560, height: 900 });
        await live.settled(() => runsSent() === 3);
        const grown = live.received.filter((m) => m.type === 'chartPoints');
        assert.equal(grown.length, 1, JSON.stringify(live.received));
        assert.ok(grown[0].type === 'chartPoints' && grown[0].points > ready.chartPoints * 1.25);
        assert.deepEqual(live.sent.filter((m) => m.type === 'run').map(points), [
          200,
          ready.chartPoints,
          Math.min(grown[0].points, DEFAULT_MAX_POINTS),
        ]);
        assert.deepEqual(live.problems, []);
      } finally {
        await live.close();
        fs.rmSync(path.dirname(dir), { recursive: true, force: true });
      }
    });

    it('draws the raw curve faintly under a smoothed one, a mean ± SE band across seeds, and log axes', async () => {
      const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-curveopts-')), path.basename(fixture));
      fs.cpSync(fixture, dir, { recursive: true });
      const live = await openLiveDashboard(browser, dir);
      /** The loss chart's series: drawn (uPlot's, less x) and listed in its legend. */
      const lossSeries = (): Promise<{ drawn: string[]; listed: number }> =>
        live.page.$eval('#chart-loss', (card) => ({
          drawn: [...card.querySelectorAll('.u-legend .u-series')].slice(1).map((r) => r.textContent ?? ''),
          listed: [...card.querySelectorAll<HTMLElement>('.u-legend .u-series')]
            .slice(1)
            .filter((r) => r.style.display !== 'none').length,
        }));
      const state = (): Promise<Record<string, unknown>> =>
        live.page.evaluate(
          () => (window as unknown as { __aftState: { curves: Record<string, unknown> } }).__aftState.curves,
        );
      try {
        await live.settled(() => live.received.some((m) => m.type === 'ready'));
        // 3 methods × 3 seeds, one line each.
        assert.deepEqual(await lossSeries().then((x) => [x.drawn.length, x.listed]), [9, 9]);
        await live.page.selectOption('select[aria-label^="Smoothing"]', '0.9');
        await live.page.waitForFunction(
          () => document.querySelectorAll('#chart-loss .u-legend .u-series').length === 19,
        );
        let s = await lossSeries();
        assert.equal(s.listed, 9, 'the raw curves are drawn, not listed');
        assert.equal(s.drawn.filter((t) => t.includes('(raw)')).length, 9);
        await live.page.click('[data-toggle="raw"]');
        await live.page.waitForFunction(
          () => document.querySelectorAll('#chart-loss .u-legend .u-series').length === 10,
        );
        await live.page.selectOption('select[aria-label^="One line per seed"]', 'band');
        // Per method: the mean (listed) and the band's two edges (not listed).
        await live.page.waitForFunction(
          () => document.querySelectorAll('#chart-loss .u-legend .u-series').length === 10,
        );
        s = await lossSeries();
        assert.equal(s.listed, 3);
        assert.deepEqual(
          s.drawn.filter((t) => /mean ± SE of 3 seeds/.test(t) && !/SE\)/.test(t)).length,
          3,
          s.drawn.join(' | '),
        );
        await live.page.click('[data-toggle="logX"]');
        await live.page.click('[data-toggle="log"]');
        const st = await state();
        assert.deepEqual([st.smoothing, st.raw, st.seedView, st.logX, st.log], [0.9, false, 'band', true, true]);
        assert.deepEqual(live.problems, []);
      } finally {
        await live.close();
      }
    });

    it('smooths the curves from its drop-down, and keeps the choice', async () => {
      const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-smooth-')), path.basename(fixture));
      fs.cpSync(fixture, dir, { recursive: true });
      const live = await openLiveDashboard(browser, dir);
      try {
        // Everything the host sends up to `ready` drawn: the canvas changes below only by smoothing.
        await live.settled(() => live.received.some((m) => m.type === 'ready'));
        const before = await live.page.$eval('#chart-loss canvas', (c) => (c as HTMLCanvasElement).toDataURL());
        await live.page.selectOption('select[aria-label^="Smoothing"]', '0.9');
        // The curves are drawn again, smoothed.
        await live.page.waitForFunction(
          (was) => (document.querySelector('#chart-loss canvas') as HTMLCanvasElement).toDataURL() !== was,
          before,
          { timeout: 10_000 },
        );
        assert.equal(
          await live.page.evaluate(
            () => (window as unknown as { __aftState: { curves: { smoothing: number } } }).__aftState.curves.smoothing,
          ),
          0.9,
        );
        assert.deepEqual(live.problems, []);
      } finally {
        await live.close();
      }
    });
  },
);
