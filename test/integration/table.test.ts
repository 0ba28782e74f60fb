/**
 * The experiments table in headless Chromium with the real bundle and the extension's host code
 * (`TableSession`) reading a run store of synthetic runs written by the store's own writer:
 * sorting, filtering, choosing and reordering columns, selecting runs and the messages that open
 * them, the CSV export, a damaged run, a run deleted while shown, and rows virtualised.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { ExportMessage, OpenRunsMessage, TableMessage } from '../../core/common/protocol/webview';
import { chromiumAvailable, launch, openLiveTable, ROOT, type LiveTable } from '../../webviews/harness/browser';
import { writeSyntheticRuns } from '../helpers/syntheticRuns';

/** Run ids of the rows in the DOM, in order. */
const rowIds = (page: Page): Promise<string[]> =>
  page.$$eval('tbody tr[data-run]', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.run ?? ''));
const headers = (page: Page): Promise<string[]> =>
  page.$$eval('thead th[data-sort]', (ths) => ths.map((th) => (th as HTMLElement).dataset.sort ?? ''));
const renders = (page: Page): Promise<number> => page.evaluate(() => Number(document.body.dataset.rendered ?? 0));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(
  'experiments table in headless Chromium',
  { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium', timeout: 180_000 },
  () => {
    let browser: Browser;
    let ws: string;
    let dirs: string[];
    let t: LiveTable;

    before(async () => {
      const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-webviews.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(build.status, 0, build.stderr);
      ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-table-ui-'));
      dirs = writeSyntheticRuns(ws, 300, { experiments: 3 });
      // A damaged status.json: its row says why, the table still opens.
      fs.writeFileSync(path.join(dirs[5], 'status.json'), '{"format": "aft-run-status", "state": ');
      browser = await launch();
      t = await openLiveTable(browser, [ws], { height: 700 });
      await t.settled(1);
    });

    after(async () => {
      await t?.close();
      await browser?.close();
    });

    const table = (): TableMessage => t.sent.filter((m): m is TableMessage => m.type === 'table').at(-1)!;

    it('opens with every run, grouped by experiment, drawing only the rows in view', async () => {
      assert.equal(table().runs.length, 300);
      assert.equal(await t.page.textContent('[data-counts]'), '300 runs');
      const groups = await t.page.$$eval('tr.group-row', (trs) => trs.map((tr) => tr.textContent));
      assert.deepEqual(groups[0], '▾ exp-00 (100 runs)');
      const drawn = (await rowIds(t.page)).length;
      assert.ok(drawn > 10 && drawn < 120, `${drawn} rows in the DOM for 300 runs`);
      // Scrolled to the end, the last runs are drawn.
      await t.page.$eval('.grid-scroll', (el) => (el.scrollTop = el.scrollHeight));
      const last = table()
        .runs.filter((r) => r.experiment === 'exp-02')
        .at(-1)!.runId;
      await until('the last row', async () => (await rowIds(t.page)).includes(last));
      await t.page.$eval('.grid-scroll', (el) => (el.scrollTop = 0));
      assert.deepEqual(t.problems, []);
    });

    it('says why a damaged run failed, in its row', async () => {
      const id = path.basename(dirs[5]);
      await t.page.fill('input.filter', 'state:"not valid JSON"');
      await until('one row', async () => ((await rowIds(t.page)).length === 1 ? true : undefined));
      assert.deepEqual(await rowIds(t.page), [id]);
      const state = await t.page.textContent(`tr[data-run="${id}"] td[data-col="state"]`);
      assert.match(state ?? '', /^failed: status\.json is not valid JSON/);
      await t.page.fill('input.filter', '');
    });

    it('sorts by a column heading, ascending then descending', async () => {
      await t.page.click('[data-toggle="group"]'); // ungrouped: one sorted list
      await t.page.click('th[data-sort="acc:aft"]');
      const values = (): number[] =>
        table()
          .runs.filter((r) => r.methods.aft)
          .map((r) => r.methods.aft.mean);
      const byId = new Map(table().runs.map((r) => [r.runId, r.methods.aft?.mean]));
      const shown = (await rowIds(t.page)).map((id) => byId.get(id)).filter((v): v is number => v !== undefined);
      assert.deepEqual(shown, [...values()].sort((a, b) => a - b).slice(0, shown.length));
      await t.page.click('th[data-sort="acc:aft"]');
      const down = (await rowIds(t.page)).map((id) => byId.get(id)).filter((v): v is number => v !== undefined);
      assert.deepEqual(down, [...values()].sort((a, b) => b - a).slice(0, down.length));
      assert.match((await t.page.textContent('th[data-sort="acc:aft"]')) ?? '', /▼$/);
    });

    it('filters by words and by column conditions, and says when a column does not exist', async () => {
      await t.page.fill('input.filter', 'lr<0.002 cnn');
      const want = table().runs.filter((r) => r.params && r.params.lr < 0.002 && r.params.student.startsWith('cnn'));
      await until('the filtered count', async () =>
        (await t.page.textContent('[data-counts]')) === `${want.length} of 300 runs` ? true : undefined,
      );
      // The rows in view (the rest are virtualised) are all runs that match.
      const wanted = new Set(want.map((r) => r.runId));
      const drawn = await rowIds(t.page);
      assert.ok(drawn.length > 0 && drawn.every((id) => wanted.has(id)));
      await t.page.fill('input.filter', 'nosuch>1');
      assert.match((await t.page.textContent('.filter-problems')) ?? '', /no column "nosuch"/);
      await t.page.fill('input.filter', '');
    });

    it('shows, hides and reorders columns from the column chooser, and keeps the choice', async () => {
      await t.page.click('[data-action="columns"]');
      const before = await headers(t.page);
      assert.equal(before[0], 'state');
      await t.page.uncheck('[data-chooser] input[data-column="started"]');
      await t.page.check('[data-chooser] input[data-column="time:aft"]');
      await t.page.click('[data-chooser] button[data-move="lr:-1"]');
      const after = await headers(t.page);
      assert.ok(!after.includes('started'));
      assert.equal(after.at(-1), 'time:aft');
      const i = before.filter((c) => c !== 'started').indexOf('lr');
      assert.equal(after[i - 1], 'lr', 'lr moved one place left');
      const state = await t.page.evaluate(() => (window as unknown as { __aftState: { shown: string[] } }).__aftState);
      assert.deepEqual(state.shown, after);
      await t.page.click('[data-action="columns"]');
    });

    it('selects runs (click, Shift-click) and asks the host to compare them or show their dashboards', async () => {
      const ids = await rowIds(t.page);
      await t.page.click(`tr[data-run="${ids[0]}"] td[data-col="dataset"]`);
      await t.page.click(`tr[data-run="${ids[3]}"] td[data-col="dataset"]`, { modifiers: ['Shift'] });
      assert.equal(await t.page.textContent('[data-selection]'), '4 selected');
      await t.page.click('[data-action="compare"]');
      const open = await until('openRuns', () => t.received.find((m): m is OpenRunsMessage => m.type === 'openRuns'));
      assert.deepEqual(open, { type: 'openRuns', action: 'compare', runIds: ids.slice(0, 4) });
      assert.deepEqual(
        t.session.dirsOf(open.runIds),
        ids.slice(0, 4).map((id) => path.join(ws, '.aft', 'runs', id)),
      );
      await t.page.dblclick(`tr[data-run="${ids[6]}"] td[data-col="dataset"]`);
      const dash = await until('a dashboard', () =>
        t.received.find((m): m is OpenRunsMessage => m.type === 'openRuns' && m.action === 'dashboard'),
      );
      assert.deepEqual(dash.runIds, [ids[6]]);
    });

    it('exports the shown rows and columns as CSV through the host', async () => {
      await t.page.fill('input.filter', 'experiment=exp-01 lr=0.01');
      const want = table().runs.filter((r) => r.experiment === 'exp-01' && r.params?.lr === 0.01);
      await until('the filtered count', async () =>
        (await t.page.textContent('[data-counts]')) === `${want.length} of 300 runs` ? true : undefined,
      );
      await t.page.click('[data-export="csv"]');
      const csv = await until('an export', () => t.received.find((m): m is ExportMessage => m.type === 'export'));
      assert.equal(csv.format, 'csv');
      assert.equal(csv.fileName, 'experiments.csv');
      const lines = csv.data.trim().split('\r\n');
      assert.deepEqual(lines[0].split(','), [...(await headers(t.page)), 'location']);
      assert.equal(lines.length, want.length + 1);
      assert.ok(want.every((r) => csv.data.includes(r.location)));
      await t.page.fill('input.filter', '');
    });

    it('draws parallel coordinates of the shown runs, exportable', async () => {
      await t.page.check('[data-toggle="parallel"]');
      const paths = await t.page.$$eval('#parallel svg path', (ps) => ps.length);
      assert.equal(paths, 300);
      await t.page.click('#parallel [data-export="svg"]');
      const svg = await until('an SVG', () =>
        t.received.find((m): m is ExportMessage => m.type === 'export' && m.format === 'svg'),
      );
      assert.match(svg.data, /^<svg/);
      await t.page.uncheck('[data-toggle="parallel"]');
    });

    it('drops a run deleted while shown when the table is refreshed', async () => {
      const gone = dirs[10];
      fs.rmSync(gone, { recursive: true });
      const n = await renders(t.page);
      await t.page.click('[data-action="refresh"]');
      await until('a new render', async () => ((await renders(t.page)) > n ? true : undefined));
      assert.equal(table().runs.length, 299);
      assert.equal(await t.page.textContent('[data-counts]'), '299 runs');
      assert.ok(!table().runs.some((r) => r.location === gone));
      assert.deepEqual(t.problems, []);
    });
  },
);
