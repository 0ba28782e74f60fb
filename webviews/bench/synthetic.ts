/** Synthetic run folders for the benchmarks: long metrics, wide ρ. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CURVE_CACHE_FILE, CurveCacheBuilder } from '../../core/common/runs/curves';
import { CURVE_VIEW_FILE, encodeCurveViews } from '../../core/common/runs/curveViews';

/** Deterministic noise in [0, 1) for a step of one series. */
function noise(step: number, seed: number, method: number): number {
  const x = Math.sin(step * 12.9898 + seed * 78.233 + method * 37.719) * 43758.5453;
  return x - Math.floor(x);
}

/**
 * With `curveCache` (the default), metrics.cols as the run store writes it; with `views` (the
 * default with it) also metrics.view.json, as it leaves a finished run.
 */
export function syntheticRun(opts: {
  steps: number;
  methods: string[];
  seeds: number[];
  rhoFeatures?: number;
  sources?: number;
  curveCache?: boolean;
  views?: boolean;
}): string {
  const cache = opts.curveCache === false ? undefined : new CurveCacheBuilder();
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bench-')), 'bench-run');
  fs.mkdirSync(dir);
  const now = new Date().toISOString();
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify({
      format: 'aft-run-status',
      version: 1,
      runId: 'bench-run',
      experiment: 'bench',
      state: 'completed',
      pid: 1,
      host: os.hostname(),
      started: now,
      updated: now,
      finished: now,
    }),
  );
  const fd = fs.openSync(path.join(dir, 'metrics.jsonl'), 'w');
  for (const [mi, method] of opts.methods.entries()) {
    for (const seed of opts.seeds) {
      const lines: string[] = [];
      for (let step = 1; step <= opts.steps; step++) {
        const t = step / opts.steps;
        // Each series its own minibatch noise, as in a real run: LTTB then keeps different steps
        // for each series, and a chart's series do not share their x values.
        const ce = Math.exp(-4 * t) * (1 + 0.1 * mi) + 0.02 * Math.sin(step / 37) + 0.05 * noise(step, seed, mi);
        const rho =
          method === 'aft'
            ? { teacher: { mean: 0.5 + 0.2 * t, min: 0, max: 1 }, noise: { mean: 0.5 - 0.4 * t, min: 0, max: 1 } }
            : undefined;
        const reg = 0.1 * (1 - t) * (1 + 0.2 * noise(step, seed + 7, mi));
        const line = JSON.stringify({
          method,
          seed,
          beta: 1,
          phase: 'final',
          step,
          epoch: step / 4,
          ce,
          reg,
          loss: ce + reg,
          trainAccuracy: 1 - ce / 2,
          evalAccuracy: 0.8 + 0.1 * t + 0.02 * noise(step, seed + 13, mi),
          lr: 0.001,
          timestamp: step,
          ...(rho ? { rho } : {}),
        });
        lines.push(line);
        cache?.addLine(line + '\n');
        if (lines.length === 10_000) fs.writeSync(fd, lines.splice(0).join('\n') + '\n');
      }
      if (lines.length) fs.writeSync(fd, lines.join('\n') + '\n');
    }
  }
  fs.closeSync(fd);
  if (cache) {
    fs.writeFileSync(path.join(dir, CURVE_CACHE_FILE), cache.encode());
    if (opts.views !== false)
      fs.writeFileSync(path.join(dir, CURVE_VIEW_FILE), encodeCurveViews(cache.curves, cache.cover()));
  }
  const methods = Object.fromEntries(
    opts.methods.map((m, i) => [
      m,
      {
        kind: m,
        test_accuracy: {
          mean: 0.85 + i * 0.02,
          se: 0.003,
          per_seed: Object.fromEntries(opts.seeds.map((s) => [String(s), 0.85 + i * 0.02])),
        },
        beta: 1,
        tuning: [],
        train_seconds: 1,
      },
    ]),
  );
  const n = opts.rhoFeatures ?? 512;
  const k = opts.sources ?? 2;
  const width = Math.floor(n / k);
  const segments = Array.from({ length: k }, (_, i) => ({
    name: `source-${i}`,
    offset: i * width,
    width: i === k - 1 ? n - i * width : width,
  }));
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({
      format: 'aft-run-summary',
      version: 1,
      runId: 'bench-run',
      experiment: 'bench',
      dataset: { name: 'x', train: 1, test: 1, classes: 2, inputShape: [1] },
      backend: 'cpu',
      sources: segments.map((s) => ({ name: s.name, kind: 'npy', width: s.width })),
      methods,
      started: now,
      finished: now,
      seconds: 1,
    }),
  );
  if (opts.methods.includes('aft')) {
    fs.mkdirSync(path.join(dir, 'rho', 'aft'), { recursive: true });
    for (const seed of opts.seeds) {
      const values = Array.from({ length: n }, (_, i) => Math.abs(Math.sin(i * 12.9898 + seed) * 43758.5453) % 1);
      fs.writeFileSync(
        path.join(dir, 'rho', 'aft', `seed-${seed}.json`),
        JSON.stringify({ method: 'aft', seed, segments, values }),
      );
    }
  }
  return dir;
}
