/**
 * Load (issue 15): 1,000 runs in the store and `aft.maxConcurrentRuns` (2) runs training in the
 * built sidecar, each with a dashboard's host session polling its folder, while the extension
 * lists the runs again and again. Every listing must answer, whole (every run, the training ones
 * running), within a bound that tells an answer from a hang; the runs must go on training and
 * stop when asked. The latencies are printed at the end (p50, p95, max against the 100 ms goal);
 * they are a figure, not a test: `npm run bench:runs` is the benchmark. Listings go as the client
 * polls (only the rows that changed cross the pipe) and, every fourth, as one whole answer.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunStarted } from '../../core/common/protocol/rpc';
import { readRunStatus } from '../../core/node/runs/store';
import { DashboardSession } from '../../extension/src/dashboard/session';
import { SidecarClient } from '../../extension/src/sidecar/client';
import { until } from '../helpers/numeric';
import { liveExperiment, writeSyntheticRuns } from '../helpers/syntheticRuns';

const ROOT = path.join(__dirname, '..', '..');
const SERVER = path.join(ROOT, 'dist', 'sidecar', 'server.js');
const RUNS = 1000;
const CONCURRENT = 2;
const LISTINGS = 40;
/** Longer than this is a hang, not a slow answer (the goal, 100 ms, is reported, not asserted). */
const ANSWER_BOUND_MS = 15_000;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

describe('load: 1,000 runs and maxConcurrentRuns runs training with dashboards open', () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-load-'));
  const client = new SidecarClient({
    serverScript: SERVER,
    env: { AFT_CACHE_DIR: path.join(ws, 'cache') },
    init: { maxConcurrentRuns: CONCURRENT },
  });
  const sessions: DashboardSession[] = [];
  const figures: string[] = [];
  after(async () => {
    for (const s of sessions) s.dispose();
    await client.stop(10_000);
    fs.rmSync(ws, { recursive: true, force: true });
    console.log(`load figures:\n  ${figures.join('\n  ')}`);
  });

  it('every listing answers with every run while the runs train; the runs then stop when asked', async () => {
    assert.ok(fs.existsSync(SERVER), 'dist/sidecar/server.js is built (npm run build)');
    writeSyntheticRuns(ws, RUNS);
    await client.start();
    const started: RunStarted[] = [];
    for (let i = 0; i < CONCURRENT; i++) {
      const file = path.join(ws, `load-${i}.aft.yaml`);
      fs.writeFileSync(file, liveExperiment(`load-${i}`));
      started.push(await client.run({ file, workspaceDir: ws }));
    }
    for (const r of started) {
      await until(`${r.runId} trains`, () => fs.existsSync(path.join(r.runDir, 'metrics.jsonl')), 180_000);
      const s = new DashboardSession(r.runDir, () => undefined);
      sessions.push(s);
      s.onReady();
    }
    const times: number[] = [];
    const whole: number[] = [];
    let wholeBytes = 0;
    for (let i = 0; i < LISTINGS; i++) {
      // Every fourth listing asks for every row in one answer (\`aft/listRuns\`), the others as the
      // client polls (\`aft/listRunChanges\`, applied to the listing it holds): both must be whole.
      const asWhole = i % 4 === 3;
      const t0 = performance.now();
      const runs = await Promise.race([
        asWhole ? client.listRunsWhole(ws) : client.listRuns(ws),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`aft/listRuns did not answer within ${ANSWER_BOUND_MS} ms`)),
            ANSWER_BOUND_MS,
          ),
        ),
      ]);
      (asWhole ? whole : times).push(performance.now() - t0);
      assert.equal(runs.length, RUNS + CONCURRENT, 'every run listed');
      if (asWhole) wholeBytes = JSON.stringify(runs).length;
      for (const r of started) assert.equal(runs.find((x) => x.runId === r.runId)?.state, 'running');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const r of started) assert.ok((readRunStatus(r.runDir).progress?.fraction ?? 0) > 0, `${r.runId} trained`);
    for (const r of started) assert.equal(await client.cancel(r.runId), true);
    for (const r of started)
      await until(`${r.runId} cancelled`, () => readRunStatus(r.runDir).state === 'cancelled', 30_000);
    const p95 = quantile(times, 0.95);
    const ms = (xs: number[]): string =>
      `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p95 ${quantile(xs, 0.95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
    figures.push(
      `listing ${RUNS + CONCURRENT} runs while ${CONCURRENT} train with dashboards polling, as the client polls (aft/listRunChanges, ${times.length} listings, the first of them whole): ${ms(times)} (goal p95 < 100 ms: ${p95 < 100 ? 'met' : 'not met'} here, load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`,
      `the same in one answer each (aft/listRuns, ${whole.length} listings, ${(wholeBytes / 1e6).toFixed(1)} MB of JSON): ${ms(whole)}`,
    );
  });
});
