/**
 * `aft report` on a real completed demo run (test/fixtures/runs/, copied from `aft demo`): the
 * CLI writes one HTML file, headless Chromium opens it from disk, and the same charts as the
 * dashboard render under the page's strict CSP: one heatmap cell per pre-trained feature, a bar
 * per method, curves, histograms, exports. Screenshots go to test-results/report/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { RunSummary } from '../../core/common/protocol/events';
import { canvasInk, chromiumAvailable, launch, rendered, ROOT, watchedPage } from '../../webviews/harness/browser';

const fixture = path.join(ROOT, 'test', 'fixtures', 'runs', 'mnist-demo-20261127-083207-s1o1');
const shots = path.join(ROOT, 'test-results', 'report');
const summary = JSON.parse(fs.readFileSync(path.join(fixture, 'summary.json'), 'utf8')) as RunSummary;
const rhoFeatures = (
  JSON.parse(fs.readFileSync(path.join(fixture, 'rho', 'aft', 'seed-0.json'), 'utf8')) as {
    segments: { width: number }[];
  }
).segments.reduce((a, s) => a + s.width, 0);

describe(
  'aft report in headless Chromium',
  { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium (apt-get install chromium)', timeout: 180_000 },
  () => {
    let browser: Browser;
    let out: string;

    before(async () => {
      const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-webviews.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(build.status, 0, build.stderr);
      out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-report-')), 'report.html');
      const cli = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'sidecar', 'src', 'cli', 'index.ts'), 'report', fixture, '--out', out],
        { cwd: ROOT, encoding: 'utf8' },
      );
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /wrote .*report\.html/);
      fs.mkdirSync(shots, { recursive: true });
      browser = await launch();
    });

    after(async () => {
      await browser?.close();
    });

    it('is one file that loads nothing else', () => {
      const html = fs.readFileSync(out, 'utf8');
      // The page's own markup, without the inline code and data.
      const markup = html.replace(/(<(script|style)[^>]*>)[\s\S]*?(<\/\2>)/gi, '$1$3');
      assert.ok(!/<(script|link|img|iframe)[^>]+(src|href)=/i.test(markup), 'no external script, stylesheet or image');
      assert.equal(markup.match(/<script/g)?.length, 2, 'the data block and the app');
      assert.match(markup, /Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-/);
    });

    for (const scheme of ['light', 'dark'] as const) {
      it(`renders the dashboard's charts (${scheme} theme)`, async () => {
        const { page, problems } = await watchedPage(browser, { colorScheme: scheme });
        await page.goto(pathToFileURL(out).href);
        await rendered(page);
        await page.waitForTimeout(300);

        const heat = await page.$eval('canvas.heatmap', (c) => ({ ...(c as HTMLCanvasElement).dataset }));
        assert.equal(Number(heat.cells), rhoFeatures, 'one heatmap cell per pre-trained feature');
        assert.equal(Number(heat.sources), 2);
        const heatInk = await canvasInk(page, 'canvas.heatmap');
        assert.ok(heatInk.colors > 20, `heatmap has ${heatInk.colors} colours`);

        const bars = await page.$$eval('#chart-bars [data-bar]', (els) => els.map((e) => e.getAttribute('data-bar')));
        assert.deepEqual(bars, Object.keys(summary.methods), 'a bar for each method');

        const curves = await page.$$eval('.uplot canvas', (els) => els.length);
        assert.ok(curves >= 6, `${curves} curve charts`);
        for (const id of ['chart-loss', 'chart-evalAccuracy', 'chart-rho']) {
          const ink = await canvasInk(page, `#${id} .uplot canvas`);
          assert.ok(ink.inked > 100, `${id} is drawn (${ink.inked} inked samples)`);
        }
        assert.equal(await page.$$eval('.histogram-card svg', (els) => els.length), 2, 'a histogram per source');
        assert.ok((await page.$$eval('[data-export]', (els) => els.length)) >= 20, 'export buttons on every chart');

        const shot = path.join(shots, `report-${scheme}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok(fs.statSync(shot).size > 50_000, 'the screenshot is not blank');
        assert.deepEqual(problems, []);
        await page.close();
      });
    }

    it('exports a chart as CSV, SVG and PNG from the report', async () => {
      const { page, problems } = await watchedPage(browser);
      await page.goto(pathToFileURL(out).href);
      await rendered(page);
      const save = async (selector: string): Promise<{ name: string; text: string; bytes: Buffer }> => {
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
        const file = await download.path();
        const bytes = fs.readFileSync(file);
        return { name: download.suggestedFilename(), text: bytes.toString('utf8'), bytes };
      };
      const csv = await save('#chart-bars [data-export="csv"]');
      assert.match(csv.name, /accuracy\.csv$/);
      assert.match(csv.text, /^method,kind,test_accuracy_mean/);
      assert.match(csv.text, /\r\naft,aft,0\.894,/);
      const svg = await save('#chart-heatmap [data-export="svg"]');
      assert.match(svg.text, /^<svg xmlns/);
      assert.equal(svg.text.match(/<rect [^>]*><title>/g)?.length, rhoFeatures, 'every cell in the SVG');
      const png = await save('#chart-loss [data-export="png"]');
      assert.deepEqual([...png.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.ok(png.bytes.length > 10_000);
      assert.deepEqual(problems, []);
      await page.close();
    });

    it('shows hover details on the heatmap', async () => {
      const { page } = await watchedPage(browser);
      await page.goto(pathToFileURL(out).href);
      await rendered(page);
      await page.locator('canvas.heatmap').scrollIntoViewIfNeeded();
      const box = (await page.locator('canvas.heatmap').boundingBox())!;
      await page.mouse.move(box.x + 8 + 30 + 3, box.y + 8 + 18 + 3);
      const tip = await page.locator('.tooltip').textContent();
      assert.match(tip ?? '', /^teacher · feature \d+ \(ρ index \d+\) · ρ = [\d.]+$/);
      await page.close();
    });
  },
);
