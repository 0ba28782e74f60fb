/**
 * The experiment-file language server, end to end in real VS Code (code-server + Chromium) with
 * the packaged .vsix installed (GitHub issue 7's acceptance test): an invalid experiment shows
 * exactly its problems from source `aft` in the Problems panel; fixing one by typing removes it
 * within seconds; a quick fix (Ctrl+.) replaces a misspelt value; the Run code lenses sit above
 * `methods:` and "Run <method> only" runs just that method; hovering a key shows its schema
 * description; the grammar colours method names (its scopes, per "Inspect Editor Tokens and
 * Scopes"); and after the server process is killed, the client restarts it and diagnostics
 * follow edits again. Screenshots go to test-results/e2e/lsp-*.png. Needs
 * `bash scripts/setup-e2e.sh` first.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  diagnosedIt,
  distinctColours,
  E2E_SKIP,
  endStudio,
  goTo,
  launchStudio,
  openFile,
  pidsMatching,
  type Problem,
  problemsShown,
  ROOT,
  runCommand,
  type StudioSession,
  until,
} from './harness';
import { isTempName } from '../../core/node/util/fsx';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'lsp', 'invalid', 'typos.aft.yaml');

/** The fixture's `.expected` lines (`line:col-line:col severity message-prefix`, `…` = any text). */
function expectedProblems(): { line: number; column: number; severity: string; message: RegExp; text: string }[] {
  return fs
    .readFileSync(FIXTURE.replace(/\.aft\.yaml$/, '.expected'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((text) => {
      const m = /^(\d+):(\d+)-\d+:\d+ (\w+) (.*)$/.exec(text);
      assert.ok(m, `an .expected line: ${text}`);
      const pattern = m[4]
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*');
      return { line: Number(m[1]), column: Number(m[2]), severity: m[3], message: new RegExp(`^${pattern}`), text };
    });
}

/** A small valid experiment for the code lenses to run (a few seconds on the wasm backend). */
const LENS_RUN = `name: lens-run
dataset: { source: mnist, train: 100, test: 100, split_seed: 0 }
pretrained:
  - { name: noise, noise: 8 }
downstream: { model: mlp, hidden: [16] }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 20, batch: 32, eval_every: 10 }
seeds: [0]
`;

describe('experiment-file language server, end to end in code-server', { skip: E2E_SKIP, timeout: 5 * 60_000 }, () => {
  let studio: StudioSession | undefined;
  const test = diagnosedIt(() => studio);
  let page: Page;
  let workspace: string;
  const t0 = Date.now();
  const expected = expectedProblems();
  const typosFile = (): string => path.join(workspace, 'typos.aft.yaml');

  /** The Problems panel's rows once they have settled to `count` from source `aft`; nothing else may be listed. */
  const problemsSettled = async (count: number, what: string, timeoutMs = 10_000): Promise<Problem[]> => {
    let last: Awaited<ReturnType<typeof problemsShown>> | undefined;
    const shown = await until(
      `${count} problems from aft (${what})`,
      async () => {
        last = await problemsShown(page);
        return last.problems.length === count && last.fileCounts.length === (count ? 1 : 0) ? last : undefined;
      },
      timeoutMs,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}; the Problems panel shows:\n${last?.problems.map((p) => `${p.line}:${p.column} ${p.source} ${p.message}`).join('\n') ?? '(nothing readable)'}`,
      );
    });
    assert.deepEqual(shown.fileCounts, count ? [count] : [], 'the file row counts the same problems');
    assert.deepEqual(
      shown.problems.filter((p) => p.source !== 'aft'),
      [],
      'every problem comes from source aft (no second validator)',
    );
    return shown.problems;
  };
  /** Asserts that `got` is exactly the expected problems minus those on the given `line:col`s. */
  const assertProblems = (got: Problem[], without: string[]): void => {
    const want = expected.filter((e) => !without.includes(`${e.line}:${e.column}`));
    const lines = got.map((p) => `${p.line}:${p.column} ${p.severity} ${p.message}`).join('\n');
    assert.equal(got.length, want.length, `problems shown:\n${lines}`);
    for (const w of want) {
      const hits = got.filter(
        (p) => p.line === w.line && p.column === w.column && p.severity === w.severity && w.message.test(p.message),
      );
      assert.equal(hits.length, 1, `exactly one problem for "${w.text}"; shown:\n${lines}`);
    }
  };
  /** The first rendered token span (Monaco's `mtk*`) containing `text` on the line starting with `lineStart`. */
  const token = (lineStart: string, text: RegExp): Locator =>
    page
      .locator('.editor-instance .view-line', { hasText: new RegExp(`^\\s*${lineStart}`) })
      .locator('span[class^="mtk"]', { hasText: text })
      .first();
  /** Saves the editor (Ctrl+S) and waits until the file on disk has a line matching `line`. */
  const assertSaved = async (line: RegExp): Promise<void> => {
    await page.keyboard.press('Control+s');
    await until(
      `typos.aft.yaml saved with a line matching ${String(line)}`,
      () =>
        fs
          .readFileSync(typosFile(), 'utf8')
          .split('\n')
          .some((l) => line.test(l)),
      5000,
    );
  };
  const serverPids = (): number[] =>
    pidsMatching(path.join(studio!.extensionDir, 'dist', 'language-server', 'server.js'));

  before(async () => {
    studio = await launchStudio({ 'typos.aft.yaml': fs.readFileSync(FIXTURE, 'utf8'), 'lens-run.aft.yaml': LENS_RUN });
    ({ page, workspace } = studio);
    console.log(`code-server up with the extension installed after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  after(() => endStudio(studio, 'lsp-last', 'language e2e', t0));

  test('shows exactly the expected problems from source aft in the Problems panel', async () => {
    const opened = Date.now();
    await openFile(page, 'typos.aft.yaml');
    await runCommand(page, 'View: Focus Problems');
    const got = await problemsSettled(expected.length, 'on open', 30_000);
    console.log(
      `problems shown ${Date.now() - opened} ms after opening the file (the extension activates and starts the server)`,
    );
    assertProblems(got, []);
    // Still exactly these a moment later: nothing arrives twice (a second client or validator).
    await page.waitForTimeout(1000);
    assertProblems((await problemsShown(page)).problems, []);
    const file = await studio!.shot('lsp-1-problems');
    const colours = distinctColours(file);
    assert.ok(colours > 50, `the screenshot shows the workbench (${colours} colours)`);
  });

  test('drops a problem within seconds of fixing it by typing', async () => {
    // `{ name: noise, nois: 256 }`: the cursor after `nois` (5:24), then `e`.
    await goTo(page, 5, 24);
    const typed = Date.now();
    await page.keyboard.type('e');
    await page.keyboard.press('Escape'); // the suggestions that typing opens
    const got = await problemsSettled(expected.length - 1, 'after typing noise', 5000);
    console.log(`problem gone ${Date.now() - typed} ms after the keystroke`);
    assertProblems(got, ['5:20']);
    await assertSaved(/^ {2}- \{ name: noise, noise: 256 \}$/);
  });

  test('applies the quick fix for a misspelt value from Ctrl+.', async () => {
    await goTo(page, 6, 24); // inside `mlpp`
    await page.keyboard.press('Control+.');
    const fix = page.locator('.action-widget .monaco-list-row', { hasText: 'Replace `mlpp` with `mlp`' });
    await fix.waitFor({ timeout: 10_000 });
    await studio!.shot('lsp-2-quick-fix-menu');
    // Choose it with the keyboard, as the menu means to be used (the mouse is blocked while it opens).
    await until('the fix focused in the menu', async () => {
      if ((await fix.getAttribute('class'))?.split(' ').includes('focused')) return true;
      await page.keyboard.press('ArrowDown');
      return false;
    });
    await page.keyboard.press('Enter');
    const got = await problemsSettled(expected.length - 2, 'after the quick fix', 5000);
    assertProblems(got, ['5:20', '6:22']);
    await assertSaved(/^downstream: \{ model: mlp, hidden: \[128, 64\] \}$/);
  });

  test('shows the Run code lenses above methods:', async () => {
    const lens = page.locator('.editor-instance .codelens-decoration').first();
    await lens.waitFor({ timeout: 10_000 });
    const titles = (await lens.locator('a').allInnerTexts()).map((t) => t.trim());
    assert.deepEqual(titles, ['▶ Run', 'Run stl only', 'Run kd only', 'Run aftt only']);
    const lensBox = (await lens.boundingBox())!;
    const methodsBox = (await page.locator('.editor-instance .view-line', { hasText: /^methods:/ }).boundingBox())!;
    const downstreamBox = (await page
      .locator('.editor-instance .view-line', { hasText: /^downstream:/ })
      .boundingBox())!;
    assert.ok(
      lensBox.y < methodsBox.y && lensBox.y > downstreamBox.y,
      `the lenses sit between downstream: and methods: (${downstreamBox.y} < ${lensBox.y} < ${methodsBox.y})`,
    );
  });

  test('shows the schema description when hovering a key', async () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', 'aft-experiment.schema.json'), 'utf8')) as {
      properties: { train: { properties: { batch: { description: string } } } };
    };
    const description = schema.properties.train.properties.batch.description;
    await token('train:', /^batch$/).hover();
    const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'train.batch' });
    await hover.waitFor({ timeout: 10_000 });
    await page.waitForTimeout(300); // its fade-in, for the screenshot
    const text = await hover.innerText();
    assert.ok(text.includes(description), `the hover shows "${description}": ${text}`);
    assert.match(text, /integer/);
    await studio!.shot('lsp-3-hover');
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
  });

  test('highlights with the grammar: method names get its scope and a colour of their own', async () => {
    const method = token('methods:', /stl/);
    const key = token('methods:', /^methods$/);
    const plain = token('train:', /adam/); // `optimiser: adam`: a value the grammar leaves alone
    await method.waitFor({ timeout: 5000 });
    assert.equal(
      (await method.innerText()).trim(),
      'stl',
      'the method name is a token of its own, not run together with the plain text around it',
    );
    const colour = (l: Locator): Promise<string> => l.evaluate((e) => getComputedStyle(e).color);
    const [methodColour, keyColour, plainColour] = [await colour(method), await colour(key), await colour(plain)];
    assert.notEqual(methodColour, plainColour, 'method names are coloured, unlike plain values');
    assert.notEqual(methodColour, keyColour, 'method names and keys are coloured differently');
    assert.notEqual(keyColour, plainColour, 'keys are coloured');
    // The scopes themselves, as VS Code's token inspector reports them for the cursor's token.
    await goTo(page, 7, 11); // `stl` in `methods: [stl, kd, "aftt"]`
    await runCommand(page, 'Developer: Inspect Editor Tokens and Scopes');
    const widget = page.locator('.token-inspect-widget');
    await widget.waitFor({ timeout: 10_000 });
    const text = await widget.innerText();
    assert.match(text, /support\.constant\.method\.aft-experiment/);
    assert.match(text, /source\.aft-experiment/);
    await studio!.shot('lsp-4-token-scopes');
    await page.keyboard.press('Escape');
  });

  test('restarts a killed language server, and diagnostics follow edits again', async () => {
    const before = serverPids();
    assert.equal(before.length, 1, `one language server process (${before.join(', ')})`);
    process.kill(before[0], 'SIGKILL');
    const after = await until(
      'a new language server process',
      () => {
        const pids = serverPids();
        return pids.length === 1 && pids[0] !== before[0] ? pids : undefined;
      },
      20_000,
    );
    assert.notEqual(after[0], before[0]);
    // `backend: gpuu` → `gpu`: the new server has the document and checks the edit.
    await goTo(page, 9, 14);
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Escape');
    const got = await problemsSettled(expected.length - 3, 'after the restart and an edit', 10_000);
    assertProblems(got, ['5:20', '6:22', '9:10']);
    await assertSaved(/^backend: gpu$/);
    await studio!.shot('lsp-5-after-server-restart');
  });

  test('runs only the chosen method from the "Run <method> only" code lens', async () => {
    await openFile(page, 'lens-run.aft.yaml');
    const lens = page.locator('.editor-instance .codelens-decoration a', { hasText: /^Run stl only$/ });
    await lens.waitFor({ timeout: 10_000 });
    await lens.click();
    const runs = path.join(workspace, '.aft', 'runs');
    const dir = await until(
      'a lens-run run folder',
      // A run folder is filled under a temporary name and then renamed (docs/run-store.md).
      () =>
        fs.existsSync(runs) ? fs.readdirSync(runs).find((d) => d.startsWith('lens-run-') && !isTempName(d)) : undefined,
      30_000,
    );
    const status = await until(
      'the run to finish',
      () => {
        const f = path.join(runs, dir, 'status.json');
        const s = fs.existsSync(f)
          ? (JSON.parse(fs.readFileSync(f, 'utf8')) as { state: string; message?: string })
          : undefined;
        return s && s.state !== 'running' ? s : undefined;
      },
      90_000,
    );
    assert.equal(status.state, 'completed', status.message);
    const summary = JSON.parse(fs.readFileSync(path.join(runs, dir, 'summary.json'), 'utf8')) as {
      methods: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(summary.methods), ['stl'], 'only stl ran');
    await studio!.shot('lsp-6-lens-run');
  });
});
