/**
 * Webview benchmarks (numbers to watch, not pass/fail tests), in headless Chromium with the real
 * bundle and the extension's host code:
 *  1. open: a completed run with 50,000 logged steps per series (3 methods × 3 seeds), from
 *     creating the host session (reading and downsampling metrics.jsonl) to the dashboard drawn;
 *  2. heatmap: drawing ρ of 10,000 features (and sorted by value);
 *  3. memory: the webview's JS heap while a run streams updates at the host's maximum rate
 *     (10 a second) for `--minutes` of simulated time (60 is the hour; 10 by default).
 * Run with `npm run bench:webviews` (add `-- --minutes 60` for the full hour). Results are
 * printed and written to bench-results/webviews.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { CDPSession } from 'playwright-core';
import type { HostMessage } from '../../core/common/protocol/webview';
import { DEFAULT_MAX_POINTS, RunAccumulator } from '../../core/common/view/runAccumulator';
import { RunReader } from '../../core/node/runs/reader';
import { launch, openLiveDashboard, rendered, ROOT } from '../harness/browser';
import { syntheticRun } from './synthetic';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    steps: { type: 'string', default: '50000' },
    features: { type: 'string', default: '10000' },
    only: { type: 'string' },
  },
});
/** `--only open|heatmap|memory` runs one part (the results file then holds that part only). */
const run = (part: 'open' | 'heatmap' | 'memory'): boolean => !args.only || args.only === part;
const minutes = Number(args.minutes);
const steps = Number(args.steps);
const features = Number(args.features);

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

async function heapMiB(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  return Math.round(((metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 2 ** 20) * 10) / 10;
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };
  const browser = await launch();
  try {
    let t0 = 0;
    // 1. Open a long run: 1, 3 and 9 series (the demo's 3 methods × 3 seeds) of `steps` rows.
    // As the run store leaves a finished run (metrics.view.json and metrics.cols); the 9 series
    // also as a running run has them (metrics.cols only: every row is downsampled), and without
    // either (a run killed before it wrote one, or written by an older version): metrics.jsonl parsed whole.
    const layouts: [string, string[], number[], 'views' | 'cols' | 'none'][] = [
      ['1 series', ['aft'], [0], 'views'],
      ['3 series', ['stl', 'kd', 'aft'], [0], 'views'],
      ['9 series', ['stl', 'kd', 'aft'], [0, 1, 2], 'views'],
      ['9 series, no view file (running)', ['stl', 'kd', 'aft'], [0, 1, 2], 'cols'],
      ['9 series, no view file or column cache', ['stl', 'kd', 'aft'], [0, 1, 2], 'none'],
    ];
    for (const [name, methods, seeds, files] of run('open') ? layouts : []) {
      const longRun = syntheticRun({
        steps,
        methods,
        seeds,
        rhoFeatures: 512,
        curveCache: files !== 'none',
        views: files === 'views',
      });
      const series = methods.length * seeds.length;
      const mib = fs.statSync(path.join(longRun, 'metrics.jsonl')).size / 2 ** 20;
      const complete = (sent: HostMessage[]): boolean => {
        const rows = new Map<string, number>();
        for (const m of sent)
          for (const x of m.type === 'run' ? m.run.series : m.type === 'update' ? (m.series ?? []) : [])
            rows.set(x.id, x.rows);
        return rows.size === series && [...rows.values()].every((r) => r === steps);
      };
      const runs: Record<string, number>[] = [];
      for (let i = 0; i < 2; i++) {
        // The page first (in VS Code the webview loads in its own process meanwhile), then the
        // clock runs from the host opening the run folder to every series drawn.
        const live = await openLiveDashboard(browser, longRun, { deferSession: true });
        await live.whenReady();
        t0 = performance.now();
        const epoch0 = Date.now();
        live.start();
        await rendered(live.page, 1, 60_000);
        let total = ms(t0);
        if (!complete(live.sent)) {
          while (!complete(live.sent)) await new Promise((r) => setTimeout(r, 5));
          const n = Number(await live.page.evaluate(() => document.body.dataset.rendered));
          await rendered(live.page, n + 1, 60_000);
          total = ms(t0);
        }
        const renderMs = Number(await live.page.evaluate(() => document.body.dataset.renderMs));
        // The page's own clock (epoch ms) for the last render: when the run's data arrived, the
        // render ended, the charts were drawn and the frame was on screen (as bench:dashboard-vscode reads them).
        // What the first screen does not show follows a frame later (app.ts `renderWhole`).
        await live.page.waitForFunction(() => document.body.dataset.allPaintedAt !== undefined, undefined, {
          timeout: 10_000,
        });
        const marks = await live.page.evaluate(() => ({
          runAt: Number(document.body.dataset.runAt),
          renderedAt: Number(document.body.dataset.renderedAt),
          drawnAt: Number(document.body.dataset.drawnAt),
          paintedAt: Number(document.body.dataset.paintedAt),
          allPaintedAt: Number(document.body.dataset.allPaintedAt),
        }));
        const stage = (at: number): number => Math.round(at - epoch0);
        await live.close();
        // The host's part alone, without a browser competing for the two cores.
        t0 = performance.now();
        const reader = new RunReader(longRun, { viewPoints: DEFAULT_MAX_POINTS });
        const acc = new RunAccumulator('bench-run', longRun);
        for (let more = true; more;) {
          const c = reader.poll();
          acc.apply(c);
          more = c.more;
        }
        const readMs = ms(t0);
        t0 = performance.now();
        acc.snapshot();
        const snapshotMs = ms(t0);
        const stages = {
          runArrivedMs: stage(marks.runAt),
          renderedMs: stage(marks.renderedAt),
          drawnMs: stage(marks.drawnAt),
          onScreenMs: stage(marks.paintedAt),
          allOnScreenMs: stage(marks.allPaintedAt),
        };
        runs.push({
          openMs: total,
          ...stages,
          webviewRenderMs: renderMs,
          hostReadMs: readMs,
          hostSnapshotMs: snapshotMs,
        });
        console.log(
          `open ${name} × ${steps} steps (${mib.toFixed(0)} MiB metrics.jsonl): first screen on screen at ${stages.onScreenMs} ms (data arrived ${stages.runArrivedMs}, rendered ${stages.renderedMs}, drawn ${stages.drawnMs}), everything at ${stages.allOnScreenMs} ms; ${total} ms until the benchmark saw every series drawn; host alone: read+model ${readMs} ms + LTTB ${snapshotMs} ms; webview render ${renderMs} ms`,
        );
      }
      results[`open_${series}_series_${files}`] = { steps, mib: Math.round(mib), runs };
    }

    // 2. A wide heatmap.
    if (run('heatmap')) {
      const wide = syntheticRun({ steps: 10, methods: ['aft'], seeds: [0], rhoFeatures: features, sources: 4 });
      const live = await openLiveDashboard(browser, wide);
      await rendered(live.page);
      const draws: number[] = [];
      for (let i = 0; i < 5; i++) {
        await live.page.click('[data-toggle="sort"]');
        await live.page.waitForTimeout(100);
        draws.push(Number(await live.page.$eval('canvas.heatmap', (c) => (c as HTMLCanvasElement).dataset.drawMs)));
      }
      const cells = await live.page.$eval('canvas.heatmap', (c) => (c as HTMLCanvasElement).dataset.cells);
      console.log(
        `heatmap: ${cells} cells drawn in ${draws.join(', ')} ms (toggling sort by value; includes layout, sort and histograms)`,
      );
      results.heatmap = { features, cells: Number(cells), drawMs: draws };
      await live.close();
    }

    // 3. Memory while streaming.
    if (run('memory')) {
      const streaming = syntheticRun({ steps: 10, methods: ['aft'], seeds: [0], rhoFeatures: 512 });
      const s = await openLiveDashboard(browser, streaming);
      await rendered(s.page);
      const cdp = await s.page.context().newCDPSession(s.page);
      await cdp.send('Performance.enable');
      const acc = new RunAccumulator('bench-run', streaming);
      acc.snapshot();
      const updates = minutes * 60 * 10;
      // 200 rows a second: every series passes maxPoints early, so a flat heap after that means no leak.
      const rowsPerUpdate = 20;
      const samples: { update: number; heapMiB: number }[] = [{ update: 0, heapMiB: await heapMiB(cdp) }];
      const methods = ['stl', 'kd', 'aft'];
      let step = 0;
      t0 = performance.now();
      for (let u = 1; u <= updates; u++) {
        // Rows for each of 3 methods × 3 seeds in turn, so that every series exists early.
        const job = Math.floor(u / 20) % 9;
        const method = methods[Math.floor(job / 3)];
        const seed = job % 3;
        const rows = Array.from({ length: rowsPerUpdate }, () => {
          step++;
          const ce = 1 / Math.sqrt(step);
          return {
            method,
            seed,
            beta: 1,
            phase: 'final' as const,
            step,
            epoch: step,
            ce,
            reg: 0.1,
            loss: ce + 0.1,
            trainAccuracy: 0.9,
            evalAccuracy: 0.85,
            lr: 0.001,
            timestamp: step,
            ...(method === 'aft'
              ? { rho: { teacher: { mean: 0.6, min: 0, max: 1 }, noise: { mean: 0.1, min: 0, max: 1 } } }
              : {}),
          };
        });
        acc.apply({ rows, rho: [] });
        const msg = acc.takeUpdate();
        await s.page.evaluate(
          (text) =>
            new Promise<void>((resolve) => {
              window.postMessage(JSON.parse(text), '*');
              requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
            }),
          JSON.stringify(msg),
        );
        if (u % Math.max(1, Math.floor(updates / 12)) === 0) {
          const h = await heapMiB(cdp);
          samples.push({ update: u, heapMiB: h });
          console.log(`  after ${u} updates (${(u / 600).toFixed(1)} simulated min, ${step} rows): heap ${h} MiB`);
        }
      }
      const wall = ms(t0);
      console.log(
        `memory: ${updates} updates (${minutes} simulated minutes at 10/s, ${step} rows) in ${(wall / 1000).toFixed(0)} s; heap ${samples.map((x) => x.heapMiB).join(' → ')} MiB`,
      );
      results.memory = { minutes, updates, rows: step, wallSeconds: Math.round(wall / 1000), samples };
      await s.close();
    }
  } finally {
    await browser.close();
  }
  const out = path.join(ROOT, 'bench-results', args.only ? `webviews-${args.only}.json` : 'webviews.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
