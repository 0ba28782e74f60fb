/**
 * A workspace of 1,000 runs (numbers to watch, not pass/fail tests; issues 15 and 17), written by
 * the run store's own writer (test/helpers/syntheticRuns.ts):
 *  1. the experiments table opened: the host's rows built from the store (cold: every file read)
 *     and the page's first render, in headless Chromium with the real bundle and `TableSession`
 *     (goal < 1 s); then sorting and filtering the 1,000 rows in the page (goal < 50 ms each);
 *  2. the run listing: `runInfos` as the Runs view and the sidecar call it (cold, then p50/p95 of
 *     repeated listings), the Runs view's model refreshed, and the listing through the built
 *     sidecar's JSON-RPC, whole (`aft/listRuns`) and as the client polls (`aft/listRunChanges`,
 *     the rows that changed; goal p95 < 100 ms);
 *  3. both again while `--concurrent` runs (2 by default) train in that sidecar, each
 *     with a dashboard's host session polling it; then re-attaching to one of them as a new window
 *     does (the Runs view's model lists the store, a dashboard session reads the live run; goal
 *     < 2 s);
 *  4. `aft/listRuns` of a small workspace while a pretrained ResNet-18 student trains (64², batch
 *     16: steps of about a second, which a sidecar training on its own thread could not answer
 *     during).
 * Run with `npm run bench:runs` (`-- --runs N` for another count). Results are printed and written
 * to bench-results/runs.json.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import type { HostMessage } from '../../core/common/protocol/webview';
import type { RunStarted } from '../../core/common/protocol/rpc';
import { runInfos } from '../../core/node/runs/store';
import { tableRuns } from '../../core/node/runs/tableRows';
import { RunsModel } from '../../extension/src/runs/model';
import { DashboardSession } from '../../extension/src/dashboard/session';
import { SidecarClient } from '../../extension/src/sidecar/client';
import { silentLogger } from '../../extension/src/util/log';
import { liveExperiment, writeSyntheticRuns } from '../../test/helpers/syntheticRuns';
import { launch, openLiveTable, ROOT } from '../harness/browser';
import { writeImageFolder } from '../../test/helpers/hf';
import { resnet18Folder } from '../../sidecar/src/bench/students';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    concurrent: { type: 'string', default: '2' },
    'cold-rows': { type: 'string' },
  },
});
const N = Number(args.runs);
/** Runs training at once in part 3 (`aft.maxConcurrentRuns`; its default is 1). */
const CONCURRENT = Number(args.concurrent);

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const stats = (xs: number[]): { p50: number; p95: number; max: number } => ({
  p50: quantile(xs, 0.5),
  p95: quantile(xs, 0.95),
  max: Math.max(...xs),
});

async function repeat(n: number, fn: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(ms(t0));
  }
  return out;
}

/** The page's own time for its last filter/sort/group/draw (`body[data-view-ms]`), after an action that re-renders it. */
async function viewMs(page: Page, act: () => Promise<void>): Promise<number> {
  const before = await page.evaluate(() => Number(document.body.dataset.rendered ?? 0));
  await act();
  await page.waitForFunction((k) => Number(document.body.dataset.rendered ?? 0) > k, before);
  return page.evaluate(() => Number(document.body.dataset.viewMs));
}

/**
 * The host's first rows from a cold store (a fresh process: nothing cached; the OS's file cache
 * is warm), as the table's session reads them (50 ms of curves): printed as JSON by a child.
 */
function coldRows(ws: string): number {
  const child = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--cold-rows', ws], { encoding: 'utf8' });
  return (JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as { ms: number }).ms;
}

async function main(): Promise<void> {
  if (args['cold-rows']) {
    const t = performance.now();
    tableRuns(args['cold-rows'], 50);
    console.log(JSON.stringify({ ms: ms(t) }));
    return;
  }
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, runs: N };
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bench-runs-'));
  let t0 = performance.now();
  writeSyntheticRuns(ws, N);
  console.log(`wrote ${N} runs in ${(ms(t0) / 1000).toFixed(1)} s (${ws})`);

  const cold = [coldRows(ws), coldRows(ws), coldRows(ws)];
  console.log(`host's first rows from a cold store (fresh processes): ${cold.join(', ')} ms`);
  results.hostFirstRowsColdMs = cold;

  // 1. The table, first in this process: nothing of the store is cached yet.
  const browser = await launch();
  try {
    t0 = performance.now();
    const epoch0 = performance.timeOrigin + t0;
    // The session starts reading the store as the panel would, while the page loads.
    const t = await openLiveTable(browser, [ws]);
    await t.settled(1);
    const marks = await t.page.evaluate(() => ({
      readyAt: Number(document.body.dataset.readyAt),
      dataAt: Number(document.body.dataset.dataAt),
      firstDrawnAt: Number(document.body.dataset.firstDrawnAt),
      navigationStart: performance.timeOrigin,
    }));
    // The first rows may come before every run's curves were read (the best and last
    // accuracies); the complete rows follow, read in slices, and are drawn again.
    const lacking = (m: HostMessage | undefined): number =>
      m?.type === 'table' ? m.runs.filter((r) => Object.values(r.methods).some((x) => x.best === undefined)).length : N;
    const tables = (): HostMessage[] => t.sent.filter((m) => m.type === 'table');
    const firstLacking = lacking(tables()[0]);
    for (const end = Date.now() + 60_000; lacking(tables().at(-1)) > 0 && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 20));
    await t.settled(tables().length);
    const completeAt = await t.page.evaluate(() => Number(document.body.dataset.drawnAt));
    const hostWarm = await repeat(10, () => tableRuns(ws));
    const open = {
      // From the page's navigation (its HTML, bundle and first script) to its `ready`, and from
      // the navigation to the rows drawn: the page's own part, without the harness's page setup.
      navigationToReadyMs: Math.round(marks.readyAt - marks.navigationStart),
      navigationToDrawnMs: Math.round(marks.firstDrawnAt - marks.navigationStart),
      rowsArrivedToDrawnMs: Math.round(marks.firstDrawnAt - marks.dataAt),
      pageReadyMs: Math.round(marks.readyAt - epoch0),
      rowsArrivedMs: Math.round(marks.dataAt - epoch0),
      firstDrawnMs: Math.round(marks.firstDrawnAt - epoch0),
      runsWithoutCurvesAtFirst: firstLacking,
      withEveryCurveMs: Math.round(completeAt - epoch0),
      hostRowsWarm: stats(hostWarm),
    };
    console.log(
      `table open (${N} runs, cold store; ms from the harness's page creation): page ready ${open.pageReadyMs}, rows arrived ${open.rowsArrivedMs}, drawn ${open.firstDrawnMs} (${firstLacking} runs' best/last accuracies still being read then; every one drawn at ${open.withEveryCurveMs}); the page's own: navigation → ready ${open.navigationToReadyMs}, navigation → rows drawn ${open.navigationToDrawnMs}, rows arrived → drawn ${open.rowsArrivedToDrawnMs}; host rows again (warm) p50 ${open.hostRowsWarm.p50} ms`,
    );
    const sortTimes: number[] = [];
    for (const col of ['acc:aft', 'lr', 'student', 'acc:stl', 'started']) {
      sortTimes.push(await viewMs(t.page, () => t.page.click(`th[data-sort="${col}"]`)));
      sortTimes.push(await viewMs(t.page, () => t.page.click(`th[data-sort="${col}"]`)));
    }
    const filterTimes: number[] = [];
    for (const f of ['lr<0.005', 'acc:aft>=92', 'cnn', 'teacher 256 steps>300', 'state=failed', '']) {
      filterTimes.push(await viewMs(t.page, () => t.page.fill('input.filter', f)));
    }
    results.table = { open, sortMs: stats(sortTimes), filterMs: stats(filterTimes) };
    console.log(
      `table sort of ${N} rows: p50 ${quantile(sortTimes, 0.5)} ms, max ${Math.max(...sortTimes)} ms; filter: p50 ${quantile(filterTimes, 0.5)} ms, max ${Math.max(...filterTimes)} ms (the page's filter, sort, group and draw)`,
    );
    await t.close();
  } finally {
    await browser.close();
  }

  // 2. The listing (its records are cached now, as in a running extension or sidecar).
  const listing = await repeat(50, () => runInfos(ws));
  const model = new RunsModel({ listRuns: (dir) => Promise.resolve(runInfos(dir)) }, () => [ws], silentLogger);
  const view = await repeat(20, async () => {
    await model.refresh();
    for (let i = 0; i < model.runs.length; i++) void model.runs[0]; // the tree asks this for every item
  });
  results.listing = { runInfos: stats(listing), runsView: stats(view) };
  console.log(
    `runInfos of ${N} runs: ${JSON.stringify(stats(listing))} ms; Runs view model refresh: ${JSON.stringify(stats(view))} ms`,
  );

  const server = path.join(ROOT, 'dist', 'sidecar', 'server.js');
  if (fs.existsSync(server)) {
    const c = new SidecarClient({ serverScript: server, init: { maxConcurrentRuns: CONCURRENT } });
    await c.start();
    const sessions: DashboardSession[] = [];
    try {
      t0 = performance.now();
      await c.listRunsWhole(ws);
      const cold = ms(t0);
      const rpc = await repeat(50, () => c.listRunsWhole(ws));
      t0 = performance.now();
      await c.listRuns(ws);
      const polledFirst = ms(t0);
      const polled = await repeat(50, () => c.listRuns(ws));
      results.sidecarListRuns = { coldMs: cold, ...stats(rpc) };
      results.sidecarListRunChanges = { firstMs: polledFirst, ...stats(polled) };
      console.log(
        `aft/listRuns (every row) through the sidecar: first ${cold} ms, then ${JSON.stringify(stats(rpc))} ms; as the client polls (aft/listRunChanges): first ${polledFirst} ms, then ${JSON.stringify(stats(polled))} ms`,
      );
      // 3. The same while `aft.maxConcurrentRuns` runs train in that sidecar, each with a
      // dashboard's host session polling its folder (issue 15's load case).
      const started: RunStarted[] = [];
      for (let i = 0; i < CONCURRENT; i++) {
        // One file each: the sidecar refuses a file that is already running.
        const file = path.join(ws, `bench-live-${i}.aft.yaml`);
        fs.writeFileSync(file, liveExperiment(`bench-live-${i}`));
        started.push(await c.run({ file, workspaceDir: ws }));
      }
      for (const r of started) {
        const metrics = path.join(r.runDir, 'metrics.jsonl');
        for (const end = Date.now() + 120_000; !fs.existsSync(metrics) && Date.now() < end;)
          await new Promise((res) => setTimeout(res, 100));
        sessions.push(new DashboardSession(r.runDir, () => undefined));
        sessions.at(-1)!.onReady();
      }
      const busy: number[] = [];
      const busyWhole: number[] = [];
      for (let i = 0; i < 40; i++) {
        t0 = performance.now();
        await c.listRuns(ws);
        busy.push(ms(t0));
        t0 = performance.now();
        await c.listRunsWhole(ws);
        busyWhole.push(ms(t0));
        await new Promise((res) => setTimeout(res, 100));
      }
      results.sidecarListRunsWhileTraining = { runs: CONCURRENT, ...stats(busyWhole) };
      results.sidecarListRunChangesWhileTraining = { runs: CONCURRENT, ...stats(busy) };
      console.log(
        `while ${CONCURRENT} run(s) train in the sidecar with their dashboards' sessions polling: aft/listRuns (every row) ${JSON.stringify(stats(busyWhole))} ms; as the client polls ${JSON.stringify(stats(busy))} ms`,
      );
      // Re-attaching to a live run from a new window (goal < 2 s): the Runs view's model lists
      // the store (the live runs `running`), and a dashboard opened on one gets the whole run.
      const reattach: { listedMs: number; dashboardMs: number; totalMs: number }[] = [];
      for (let i = 0; i < 5; i++) {
        t0 = performance.now();
        const view = new RunsModel({ listRuns: (dir) => Promise.resolve(runInfos(dir)) }, () => [ws], silentLogger);
        await view.refresh();
        if (view.get(started[0].runId)?.state !== 'running') throw new Error('the live run is not listed running');
        const listedMs = ms(t0);
        const t1 = performance.now();
        await new Promise<void>((resolve) => {
          const s = new DashboardSession(started[0].runDir, (m) => {
            if (m.type !== 'run') return;
            s.dispose();
            resolve();
          });
          s.onReady();
        });
        reattach.push({ listedMs, dashboardMs: ms(t1), totalMs: ms(t0) });
      }
      results.reattach = reattach;
      console.log(
        `re-attaching to a live run from a new window (Runs view listed, then its dashboard's whole run): ${reattach.map((r) => `${r.listedMs} + ${r.dashboardMs} = ${r.totalMs}`).join(', ')} ms (goal < 2,000)`,
      );
      for (const r of started) await c.cancel(r.runId);
    } finally {
      for (const x of sessions) x.dispose();
      await c.stop(10_000);
    }
    results.sidecarListRunsWhileResNetTrains = await listingWhileResNetTrains(server);
  } else console.log('aft/listRuns through the sidecar: skipped (no dist/sidecar/server.js; npm run build)');

  fs.rmSync(ws, { recursive: true, force: true });
  const out = path.join(ROOT, 'bench-results', 'runs.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

/** 4: the listing of a one-run workspace while that run, a ResNet-18 student, trains. */
async function listingWhileResNetTrains(server: string): Promise<{ p50: number; p95: number; max: number }> {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bench-resnet-'));
  await writeImageFolder(path.join(ws, 'images'), 12);
  const file = path.join(ws, 'resnet.aft.yaml');
  fs.writeFileSync(
    file,
    `name: bench-resnet
dataset: { source: images, folder: images, test_fraction: 0.25 }
pretrained:
  - { name: noise, noise: 8 }
downstream: { model: pretrained, folder: ${JSON.stringify(resnet18Folder())}, input_size: [64, 64] }
methods: [aft]
beta: { aft: 1 }
train: { steps: 100000, batch: 16 }
`,
  );
  const c = new SidecarClient({
    serverScript: server,
    env: { AFT_CACHE_DIR: path.join(ws, 'cache') },
    init: { maxConcurrentRuns: 1 },
  });
  await c.start();
  try {
    let step = 0;
    c.onRunEvent((e) => void (e.type === 'progress' && (step = e.step)));
    const r = await c.run({ file, workspaceDir: ws });
    while (step < 2) await new Promise((res) => setTimeout(res, 100));
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await c.listRuns(ws);
      times.push(ms(t0));
      await new Promise((res) => setTimeout(res, 100 + 200 * Math.random()));
    }
    const steps = step;
    await c.cancel(r.runId);
    console.log(
      `aft/listRuns while a ResNet-18 student trains (${steps} steps by the end): ${JSON.stringify(stats(times))} ms`,
    );
    return stats(times);
  } finally {
    await c.stop(10_000);
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
