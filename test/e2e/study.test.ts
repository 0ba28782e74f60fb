/**
 * A study end to end in real VS Code (code-server + Chromium): a study folder in the workspace
 * (the measured MNIST noise study, test/fixtures/studies) has its own entry in the Runs view with
 * its values' runs under it, and clicking it opens the study view: the figure with a line per
 * method over the noise widths, under the webviews' CSP.
 * Needs `bash scripts/setup-e2e.sh` (and its Debian packages) first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import {
  diagnosedIt,
  E2E_SKIP,
  endStudio,
  launchStudio,
  type StudioSession,
  until,
  activeWebview,
  consoleCspViolations,
  runsPane,
} from './harness';

const STUDY = 'mnist-noise-study-study-20261205-041942-74iu';
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'studies', STUDY);

/** The study folder's files as workspace files under .aft/runs/. */
function studyFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const rel of fs.readdirSync(FIXTURE, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(FIXTURE, rel);
    if (fs.statSync(file).isFile())
      files[path.posix.join('.aft', 'runs', STUDY, rel.split(path.sep).join('/'))] = fs.readFileSync(file, 'utf8');
  }
  return files;
}

describe('a study, end to end in code-server', { skip: E2E_SKIP, timeout: 5 * 60_000 }, () => {
  let studio: StudioSession | undefined;
  const test = diagnosedIt(() => studio);
  let page: Page;
  const t0 = Date.now();
  let consoleCsp: string[] = [];
  const web = (): FrameLocator => activeWebview(page);

  before(async () => {
    studio = await launchStudio(studyFiles());
    ({ page } = studio);
    consoleCsp = consoleCspViolations(page);
    await page.locator('.activitybar .action-item a[aria-label^="AFT Studio"]').first().click({ timeout: 30_000 });
  });

  after(() => endStudio(studio, 'study-last', 'study e2e', t0));

  test('the Runs view lists the study with its values, and the study view draws its figure', async () => {
    const row = runsPane(page).locator('.monaco-list-row').filter({ hasText: 'study' }).first();
    await row.waitFor({ timeout: 60_000 });
    assert.match((await row.textContent()) ?? '', /mnist-noise-study · study .*completed · 4\/4 values/);
    await row.click();
    await web().locator('body[data-rendered]').waitFor({ timeout: 45_000 });
    const series = (): Promise<string[]> =>
      web()
        .locator('#study-figure [data-series]')
        .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-series') ?? ''))]);
    await until('the figure has its lines', async () => ((await series()).length >= 3 ? true : undefined), 20_000);
    assert.deepEqual((await series()).sort(), ['aft', 'kd', 'stl']);
    // Its values' runs are under it in the tree (expanded by its twistie).
    await row.locator('.monaco-tl-twistie').click();
    const values = runsPane(page)
      .locator('.monaco-list-row')
      .filter({ hasText: /noise = \d+/ });
    await until('the values under the study', async () => ((await values.count()) === 4 ? true : undefined), 20_000);
    assert.deepEqual(consoleCsp, [], 'no CSP violation on the console');
    await studio!.shot('study');
  });
});
