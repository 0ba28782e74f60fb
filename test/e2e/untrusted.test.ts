/**
 * Workspace trust, end to end in real VS Code (code-server + Chromium) with the packaged .vsix
 * installed: code-server runs with workspace trust on and the folder opens untrusted, in
 * Restricted Mode (no startup modal). As a user sees it: the workbench says Restricted Mode; an
 * invalid experiment file still shows its problems from source `aft` (the language server
 * validates in untrusted workspaces); "AFT: Run Experiment" on a valid experiment explains that
 * nothing runs in an untrusted workspace, and neither a run folder (.aft/runs) nor a sidecar
 * process appears; Extract Features is not offered in the editor and explorer context menus; the
 * Runs view shows its untrusted welcome text (the Experiments view still lists the files).
 * Screenshots go to test-results/e2e/untrusted-*.png. Needs `bash scripts/setup-e2e.sh` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe } from 'node:test';
import type { Page } from 'playwright-core';
import {
  diagnosedIt,
  E2E_SKIP,
  endStudio,
  findFiles,
  launchStudio,
  openFile,
  pidsMatching,
  problemsShown,
  ROOT,
  runCommand,
  type StudioSession,
  until,
  runsPane,
} from './harness';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'lsp', 'invalid', 'typos.aft.yaml');

/** The fixture's `.expected` lines as `line:column severity`, and each message's start. */
function expectedProblems(): { at: string; prefix: string }[] {
  return fs
    .readFileSync(FIXTURE.replace(/\.aft\.yaml$/, '.expected'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((text) => {
      const m = /^(\d+):(\d+)-\d+:\d+ (\w+) (.*)$/.exec(text);
      assert.ok(m, `an .expected line: ${text}`);
      return { at: `${m[1]}:${m[2]} ${m[3]}`, prefix: m[4].split('…')[0] };
    });
}

/** A small valid experiment: in a trusted workspace it would train in seconds. */
const VALID = `name: tiny
dataset: { source: mnist, train: 100, test: 100, split_seed: 0 }
pretrained:
  - { name: noise, noise: 8 }
downstream: { model: mlp, hidden: [16] }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 20, batch: 32, eval_every: 10 }
seeds: [0]
`;

const UNTRUSTED_MESSAGE =
  /AFT: Run Experiment is not available in an untrusted workspace\. Running trains models on this workspace's files in a separate process; experiment files can still be opened and checked\. Trust the workspace to run it\./;

describe(
  'untrusted workspace (Restricted Mode), end to end in code-server',
  { skip: E2E_SKIP, timeout: 5 * 60_000 },
  () => {
    let studio: StudioSession | undefined;
    const test = diagnosedIt(() => studio);
    let page: Page;
    let workspace: string;
    const t0 = Date.now();

    const sidecarPids = (): number[] => pidsMatching(path.join(studio!.extensionDir, 'dist', 'sidecar', 'server.js'));
    const languageServerPids = (): number[] =>
      pidsMatching(path.join(studio!.extensionDir, 'dist', 'language-server', 'server.js'));
    const extensionLog = (): string =>
      findFiles(studio!.server.userDataDir, /AFT Studio\.log$/)
        .map((f) => fs.readFileSync(f, 'utf8'))
        .join('\n');
    const assertNothingRan = (when: string): void => {
      assert.deepEqual(sidecarPids(), [], `no sidecar process ${when}`);
      assert.equal(fs.existsSync(path.join(workspace, '.aft', 'runs')), false, `no .aft/runs folder ${when}`);
    };

    before(async () => {
      studio = await launchStudio(
        { 'typos.aft.yaml': fs.readFileSync(FIXTURE, 'utf8'), 'tiny.aft.yaml': VALID },
        {},
        { trusted: false },
      );
      ({ page, workspace } = studio);
      console.log(
        `code-server up (untrusted) with the extension installed after ${((Date.now() - t0) / 1000).toFixed(0)} s`,
      );
    });

    after(() => endStudio(studio, 'untrusted-last', 'untrusted e2e', t0));

    test('opens the folder in Restricted Mode, without a modal in the way', async () => {
      // The status bar item and the banner VS Code shows for an untrusted folder.
      await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
      const banner = page.locator('.part.banner', { hasText: /Restricted Mode/ });
      await banner.first().waitFor({ timeout: 10_000 });
      assert.match(await banner.first().innerText(), /Restricted Mode is intended for safe code browsing/);
      assert.equal(await page.locator('.monaco-dialog-box').count(), 0, 'no workspace trust dialog');
      await studio!.shot('untrusted-1-restricted-mode');
    });

    test('still shows the problems of an invalid experiment file (the language server validates)', async () => {
      const expected = expectedProblems();
      await openFile(page, 'typos.aft.yaml');
      await runCommand(page, 'View: Focus Problems');
      let last: Awaited<ReturnType<typeof problemsShown>> | undefined;
      const shown = await until(
        `${expected.length} problems from aft`,
        async () => {
          last = await problemsShown(page);
          return last.problems.length === expected.length ? last : undefined;
        },
        30_000,
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}; the Problems panel shows:\n${last?.problems.map((p) => `${p.line}:${p.column} ${p.source} ${p.message}`).join('\n') ?? '(nothing readable)'}`,
        );
      });
      const lines = shown.problems
        .map((p) => `${p.line}:${p.column} ${p.severity} ${p.source} ${p.message}`)
        .join('\n');
      for (const e of expected) {
        const hits = shown.problems.filter(
          (p) => `${p.line}:${p.column} ${p.severity}` === e.at && p.source === 'aft' && p.message.startsWith(e.prefix),
        );
        assert.equal(hits.length, 1, `exactly one problem "${e.at} ${e.prefix}"; shown:\n${lines}`);
      }
      assert.equal(languageServerPids().length, 1, 'one language server process');
      await studio!.shot('untrusted-2-problems');
      // The extension is active, and it decided not to start the sidecar (not merely not yet).
      await until(
        'the extension log saying the sidecar is not started',
        () => /untrusted workspace: the sidecar is not started and nothing runs/.test(extensionLog()),
        10_000,
      );
      assertNothingRan('after opening experiment files');
    });

    test('"AFT: Run Experiment" says nothing runs in an untrusted workspace, and nothing runs', async () => {
      await openFile(page, 'tiny.aft.yaml');
      await runCommand(page, 'AFT: Run Experiment');
      const toast = page
        .locator('.notification-toast', { hasText: 'is not available in an untrusted workspace' })
        .first();
      await toast.waitFor({ timeout: 15_000 });
      // For the screenshot, the toast whole: VS Code marks it when its fade-in transition has ended
      // (no transition runs when the workbench reduces motion).
      await until(
        'the toast faded in',
        async () =>
          /\bnotification-fade-in-done\b/.test((await toast.getAttribute('class')) ?? '') ||
          (await page.locator('.monaco-workbench.reduce-motion').count()) > 0,
        5000,
      );
      assert.match(await toast.innerText(), UNTRUSTED_MESSAGE);
      await toast.locator('.monaco-button', { hasText: 'Manage Workspace Trust' }).waitFor({ timeout: 5000 });
      await studio!.shot('untrusted-3-run-refused');
      assertNothingRan('after AFT: Run Experiment');
    });

    test('keeps Extract Features out of the editor and explorer context menus (Run Experiment stays)', async () => {
      await page.keyboard.press('Escape');
      const items = page.locator('.monaco-menu .action-label');
      /** The open context menu's items, once it lists Run Experiment and its fade-in has ended (for the screenshot). */
      const menuShown = async (): Promise<string[]> => {
        const run = items.filter({ hasText: 'Run Experiment' }).first();
        await run.waitFor({ timeout: 10_000 });
        await until(
          'the menu faded in',
          () =>
            run.evaluate((e) => {
              // The item and its ancestors, across the menu's shadow root: no finite animation still running.
              for (let n: Node | null = e; n; n = n instanceof ShadowRoot ? n.host : n.parentNode) {
                if (
                  n instanceof Element &&
                  n
                    .getAnimations()
                    .some((a) => a.playState === 'running' && a.effect?.getComputedTiming().endTime !== Infinity)
                )
                  return false;
              }
              return true;
            }),
          5000,
        );
        return (await items.allInnerTexts()).map((t) => t.trim()).filter(Boolean);
      };
      await page.locator('.editor-instance .view-line').first().click({ button: 'right' });
      const editorMenu = await menuShown();
      await studio!.shot('untrusted-4-editor-context-menu');
      assert.ok(
        !editorMenu.includes('Extract Features'),
        `no Extract Features in the editor context menu: ${editorMenu.join(' | ')}`,
      );
      await page.keyboard.press('Escape');
      await runCommand(page, 'View: Show Explorer');
      await page
        .locator('.explorer-folders-view .monaco-list-row', { hasText: 'tiny.aft.yaml' })
        .first()
        .click({ button: 'right' });
      const explorerMenu = await menuShown();
      await studio!.shot('untrusted-5-explorer-context-menu');
      assert.ok(
        !explorerMenu.includes('Extract Features'),
        `no Extract Features in the explorer context menu: ${explorerMenu.join(' | ')}`,
      );
      await page.keyboard.press('Escape');
    });

    test('shows the untrusted welcome text in the Runs view, and still lists the experiment files', async () => {
      await page.keyboard.press('Escape');
      await runCommand(page, 'View: Show AFT Studio');
      const experiments = page
        .locator('.pane', { has: page.locator('.pane-header', { hasText: /^\s*Experiments/ }) })
        .locator('.monaco-list-row');
      for (const name of ['tiny.aft.yaml', 'typos.aft.yaml'])
        await experiments.filter({ hasText: name }).first().waitFor({ timeout: 15_000 });
      const welcome = runsPane(page).locator('.welcome-view-content');
      await welcome
        .filter({ hasText: 'Runs are started in trusted workspaces only.' })
        .first()
        .waitFor({ timeout: 15_000 });
      await welcome.locator('.monaco-button', { hasText: 'Manage Workspace Trust' }).first().waitFor({ timeout: 5000 });
      assert.equal(await runsPane(page).locator('.monaco-list-row').count(), 0, 'the Runs view lists no runs');
      await studio!.shot('untrusted-6-runs-view');
      // Still nothing, some seconds after the command: no sidecar was started late either.
      assertNothingRan('at the end');
    });
  },
);
