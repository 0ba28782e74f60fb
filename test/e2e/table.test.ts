/**
 * The experiments table end to end in real VS Code (code-server + Chromium): the Runs view's
 * table button opens it with every run of the workspace (a damaged one as a row that says why),
 * under the webviews' CSP; two runs selected in it open in the comparison panel.
 * Needs `bash scripts/setup-e2e.sh` (and its Debian packages) first.
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import {
  diagnosedIt,
  E2E_SKIP,
  endStudio,
  FIXTURE_ID,
  fixtureRun,
  launchStudio,
  type StudioSession,
  until,
  activeWebview,
  consoleCspViolations,
  runsPane,
} from './harness';

const COPY_ID = 'mnist-demo-20261127-093000-t4b1';
const DAMAGED_ID = 'mnist-demo-20261127-094500-d4d4';

describe('experiments table, end to end in code-server', { skip: E2E_SKIP, timeout: 5 * 60_000 }, () => {
  let studio: StudioSession | undefined;
  const test = diagnosedIt(() => studio);
  let page: Page;
  const t0 = Date.now();
  let consoleCsp: string[] = [];
  const web = (): FrameLocator => activeWebview(page);
  /** The ready watchdog may open a silent webview again twice (readyWatchdog.ts): this covers it. */
  const WEBVIEW_SHOWS_MS = 45_000;

  before(async () => {
    studio = await launchStudio({
      ...fixtureRun(FIXTURE_ID),
      ...fixtureRun(COPY_ID),
      [`.aft/runs/${DAMAGED_ID}/status.json`]: '{"format": "aft-run-status", "state": ',
    });
    ({ page } = studio);
    consoleCsp = consoleCspViolations(page);
    await page.locator('.activitybar .action-item a[aria-label^="AFT Studio"]').first().click({ timeout: 30_000 });
    await runsPane(page)
      .locator('.monaco-list-row')
      .filter({ hasText: 'mnist-demo' })
      .first()
      .waitFor({ timeout: 60_000 });
  });

  after(() => endStudio(studio, 'table-last', 'table e2e', t0));

  test("opens from the Runs view's button with every run, a damaged one saying why, with no CSP violation", async () => {
    const button = runsPane(page).locator('.pane-header a.action-label[aria-label="Show Experiments Table"]');
    await runsPane(page).locator('.pane-header').hover();
    await button.click({ timeout: 15_000 });
    await web().locator('body[data-rendered]').waitFor({ timeout: WEBVIEW_SHOWS_MS });
    const ids = (): Promise<string[]> =>
      web()
        .locator('tbody tr[data-run]')
        .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.run ?? ''));
    await until('three rows', async () => ((await ids()).length === 3 ? true : undefined), 20_000);
    assert.deepEqual((await ids()).sort(), [COPY_ID, DAMAGED_ID, FIXTURE_ID].sort());
    const state = await web().locator(`tr[data-run="${DAMAGED_ID}"] td[data-col="state"]`).textContent();
    assert.match(state ?? '', /^failed: status\.json is not valid JSON/);
    const acc = await web().locator(`tr[data-run="${FIXTURE_ID}"] td[data-col="acc:aft"]`).textContent();
    assert.match(acc ?? '', /^\d+\.\d\d ± \d+\.\d\d$/);
    assert.deepEqual(consoleCsp, [], 'no CSP violation on the console');
    await studio!.shot('table');
  });

  test('opens two selected runs in the comparison', async () => {
    for (const id of [FIXTURE_ID, COPY_ID]) await web().locator(`tr[data-run="${id}"] td[data-col="dataset"]`).click();
    assert.equal(await web().locator('[data-selection]').textContent(), '2 selected');
    await web().locator('[data-action="compare"]').click();
    const compare = web().locator('#compare-table');
    await compare.locator('tbody tr').first().waitFor({ timeout: WEBVIEW_SHOWS_MS });
    const header = await compare.locator('th').allInnerTexts();
    for (const id of [FIXTURE_ID, COPY_ID])
      assert.ok(
        header.some((c) => c.includes(id)),
        `${id} is a column: ${header.join(' | ')}`,
      );
    await studio!.shot('table-compare');
  });
});
