/**
 * `aft report` on real completed studies (test/fixtures/studies/, made by `aft run` on the noise
 * and ablation study templates and stripped by strip.sh): one HTML file whose study view draws
 * the figure (a line per method with ± SE at each width; a bar per variant), mean ρ per source,
 * the table and the runs, under the page's strict CSP, and exports them as PNG, SVG and CSV.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { readStudy } from '../../core/node/runs/studies';
import { chromiumAvailable, launch, rendered, ROOT, watchedPage } from '../../webviews/harness/browser';

const fixtures = path.join(ROOT, 'test', 'fixtures', 'studies');
const studies = fs
  .readdirSync(fixtures)
  .map((n) => path.join(fixtures, n))
  .filter((d) => fs.existsSync(path.join(d, 'study.json')));
const ofKind = (kind: string): string => {
  const dir = studies.find((d) => readStudy(d).record.kind === kind);
  assert.ok(dir, `a ${kind} study in ${fixtures}`);
  return dir;
};
const fixture = ofKind('noise');
const ablation = ofKind('ablation');
const report = (dir: string, out: string): void => {
  const cli = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'sidecar', 'src', 'cli', 'index.ts'), 'report', dir, '--out', out],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /wrote .*\.html/);
};
const shots = path.join(ROOT, 'test-results', 'report');

describe(
  'aft report on a study in headless Chromium',
  { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium (apt-get install chromium)', timeout: 180_000 },
  () => {
    let browser: Browser;
    let out: string;
    const study = readStudy(fixture);

    before(async () => {
      const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-webviews.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(build.status, 0, build.stderr);
      out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-study-report-')), 'study.html');
      report(fixture, out);
      fs.mkdirSync(shots, { recursive: true });
      browser = await launch();
    });

    after(async () => {
      await browser?.close();
    });

    it('is a completed noise study', () => {
      assert.equal(study.state, 'completed');
      assert.equal(study.record.kind, 'noise');
    });

    it("draws the study's figure, mean ρ, table and runs", async () => {
      const { page, problems } = await watchedPage(browser);
      await page.goto(pathToFileURL(out).href);
      await rendered(page);
      const methods = Object.keys(study.values[0].summary!.methods);
      const lines = await page.$$eval('#study-figure [data-series]', (els) =>
        els.map((e) => e.getAttribute('data-series')),
      );
      assert.deepEqual(lines, methods, 'a line per method');
      // A marker per method and value, each with its SE in the tooltip.
      const markers = await page.$$eval('#study-figure circle title', (els) => els.length);
      assert.equal(markers, methods.length * study.values.length);
      assert.ok((await page.$$eval('#study-rho [data-series]', (els) => els.length)) >= 1, 'mean ρ lines');
      const rows = await page.$$eval('#study-table tbody tr', (els) => els.length);
      assert.equal(rows, study.values.length);
      assert.equal(await page.$$eval('#study-runs tbody tr', (els) => els.length), study.values.length);
      assert.ok((await page.$$eval('[data-export]', (els) => els.length)) >= 7, 'export buttons on every card');
      await page.screenshot({ path: path.join(shots, 'study.png'), fullPage: true });
      assert.deepEqual(problems, []);
      await page.close();
    });

    it('draws an ablation as a bar ± SE per variant, named by its value', async () => {
      const file = path.join(path.dirname(out), 'ablation.html');
      report(ablation, file);
      const { page, problems } = await watchedPage(browser);
      await page.goto(pathToFileURL(file).href);
      await rendered(page);
      const study = readStudy(ablation);
      const bars = await page.$$eval('#study-figure [data-bar]', (els) => els.map((e) => e.getAttribute('data-bar')));
      assert.deepEqual(
        bars,
        study.values.map((v) => v.label),
      );
      // The table: one accuracy column, a row per variant.
      assert.equal((await page.$$eval('#study-table thead th', (els) => els.length)) >= 3, true);
      assert.equal(await page.$$eval('#study-table tbody tr', (els) => els.length), study.values.length);
      await page.screenshot({ path: path.join(shots, 'study-ablation.png'), fullPage: true });
      assert.deepEqual(problems, []);
      await page.close();
    });

    it('exports the figure as CSV, SVG and PNG', async () => {
      const { page, problems } = await watchedPage(browser);
      await page.goto(pathToFileURL(out).href);
      await rendered(page);
      const save = async (selector: string): Promise<{ name: string; text: string; bytes: Buffer }> => {
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
        const bytes = fs.readFileSync(await download.path());
        return { name: download.suggestedFilename(), text: bytes.toString('utf8'), bytes };
      };
      const csv = await save('#study-figure [data-export="csv"]');
      assert.match(csv.name, /figure\.csv$/);
      const lines = csv.text.trim().split('\r\n');
      assert.match(lines[0], /^value_index,value,x,method,test_accuracy_mean,test_accuracy_se,seeds/);
      const methods = Object.keys(study.values[0].summary!.methods);
      assert.equal(lines.length, 1 + methods.length * study.values.length);
      const first = study.values[0].summary!.methods[methods[0]].test_accuracy;
      assert.ok(lines[1].startsWith(`0,${study.values[0].label},`) && lines[1].includes(`,${first.mean},${first.se},`));
      const svg = await save('#study-figure [data-export="svg"]');
      assert.match(svg.text, /^<svg xmlns/);
      const png = await save('#study-rho [data-export="png"]');
      assert.deepEqual([...png.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      assert.deepEqual(problems, []);
      await page.close();
    });
  },
);
