/**
 * Many synthetic but valid run folders, written with the real run store writer (RunStore): a
 * resolved experiment, metrics rows of each method and seed, ρ, a summary and the final status,
 * exactly as a run leaves them. For the run-listing and experiments-table tests and benchmarks
 * (1,000 runs in a workspace, issue 15/17).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MethodSummary, RunSummary } from '../../core/common/protocol/events';
import { RUNS_DIR, RunStore } from '../../core/node/runs/store';

export interface SyntheticRunsOptions {
  /** Different experiment names cycled through (default 10). */
  experiments?: number;
  /** Evaluations per training (metrics rows per method and seed; default 5). */
  evals?: number;
  /** Every n-th run ends failed, every (n+1)-th cancelled (default 17: a few of each). */
  failEvery?: number;
}

const METHODS = [
  ['stl', 'aft'],
  ['stl', 'kd', 'aft'],
  ['stl', 'aft', 'rkd'],
] as const;
const LRS = [1e-3, 3e-3, 1e-2];
const STEPS = [200, 500, 1000];
const BETAS = [1, 10, 100];

/** Deterministic numbers in [0, 1) for run i. */
function u(i: number, k: number): number {
  const x = Math.sin(i * 12.9898 + k * 78.233) * 43758.5453;
  return x - Math.floor(x);
}

function experimentOf(i: number, experiments: number): Record<string, unknown> {
  const name = `exp-${String(i % experiments).padStart(2, '0')}`;
  const methods = METHODS[i % METHODS.length];
  return {
    name,
    dataset: { source: 'mnist', train: 500, test: 2000, split_seed: 0 },
    pretrained: [
      { name: 'teacher', builtin: 'mnist-teacher' },
      { name: 'noise', noise: 64 * (1 + (i % 4)) },
    ],
    downstream: { model: i % 2 ? 'cnn' : 'mlp', hidden: [128, 64], channels: [16, 32], init: 'random' },
    methods: [...methods],
    beta: { aft: [1, 10, 100] },
    train: {
      steps: STEPS[i % STEPS.length],
      batch: 128,
      optimizer: 'adam',
      lr: LRS[Math.floor(i / 3) % LRS.length],
      prior_lr: 0.01,
      weight_decay: 0,
      schedule: 'cosine',
      eval_every: 100,
    },
    tune: { holdout: 0.1, split_seed: 0, seeds: 'first' },
    seeds: i % 5 === 0 ? [0] : [0, 1, 2],
    backend: 'auto',
  };
}

/** One finished run in `workspace` (as `aft run` leaves it); returns its folder. */
export function writeSyntheticRun(workspace: string, i: number, opts: SyntheticRunsOptions = {}): string {
  const exp = experimentOf(i, opts.experiments ?? 10);
  const store = RunStore.create(workspace, exp.name as string, exp, `name: ${exp.name as string}\n`);
  const methods = exp.methods as string[];
  const seeds = exp.seeds as number[];
  const train = exp.train as { steps: number; lr: number };
  const evals = opts.evals ?? 5;
  const beta = BETAS[i % BETAS.length];
  const failEvery = opts.failEvery ?? 17;
  const fails = i % failEvery === failEvery - 1;
  const summaries: Record<string, MethodSummary> = {};
  for (const [mi, method] of methods.entries()) {
    const perSeed: Record<string, number> = {};
    for (const seed of seeds) {
      let acc = 0;
      for (let e = 1; e <= evals; e++) {
        const step = Math.round((train.steps * e) / evals);
        const t = e / evals;
        acc = 0.7 + 0.2 * t + 0.03 * mi + 0.02 * u(i, mi * 10 + seed * 100 + e) - (e === evals ? 0.04 * u(i, 7) : 0);
        const ce = Math.exp(-3 * t) + 0.05 * u(i, e + seed);
        store.appendMetrics({
          type: 'metrics',
          runId: store.runId,
          method,
          seed,
          beta: method === 'stl' ? 0 : beta,
          phase: 'final',
          step,
          epoch: step / 4,
          ce,
          reg: method === 'stl' ? 0 : 0.1 * (1 - t),
          loss: ce,
          trainAccuracy: acc + 0.05,
          evalAccuracy: acc,
          lr: train.lr,
          timestamp: Date.now(),
        });
      }
      perSeed[String(seed)] = acc;
      if (method === 'aft')
        store.writeRho(
          method,
          seed,
          [
            { name: 'teacher', offset: 0, width: 4 },
            { name: 'noise', offset: 4, width: 4 },
          ],
          [0.9, 0.8, 0.7, 0.9, 0.1, 0.2, 0.1, 0.05],
        );
    }
    if (fails) break;
    const values = Object.values(perSeed);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1));
    summaries[method] = {
      kind: method,
      test_accuracy: { mean, se: values.length > 1 ? sd / Math.sqrt(values.length) : 0, per_seed: perSeed },
      beta: method === 'stl' ? 0 : beta,
      tuning:
        method === 'stl'
          ? []
          : [{ seed: 0, candidates: BETAS.map((b) => ({ beta: b, holdout_accuracy: 0.8 + 0.01 * b })), chosen: beta }],
      ...(method === 'aft' ? { rho_mean_by_source: { teacher: 0.8, noise: 0.1 } } : {}),
      train_seconds: 5 + 30 * u(i, mi),
    };
  }
  if (fails) {
    store.finish('failed', `cannot write ${store.dir}/checkpoints: disk full: 4096 bytes needed`);
    return store.dir;
  }
  if (i % failEvery === 0 && i > 0) {
    store.finish('cancelled');
    return store.dir;
  }
  const now = new Date().toISOString();
  const summary: RunSummary = {
    format: 'aft-run-summary',
    version: 1,
    runId: store.runId,
    experiment: exp.name as string,
    dataset: { name: 'mnist', train: 500, test: 2000, classes: 10, inputShape: [28, 28, 1] },
    backend: 'wasm',
    sources: [
      { name: 'teacher', kind: 'builtin', width: 256, linear_probe_accuracy: 0.9 + 0.05 * u(i, 3) },
      { name: 'noise', kind: 'noise', width: 64 * (1 + (i % 4)), linear_probe_accuracy: 0.1 },
    ],
    methods: summaries,
    started: now,
    finished: now,
    seconds: 60 + 100 * u(i, 5),
  };
  store.writeSummary(summary);
  store.finish('completed');
  return store.dir;
}

/**
 * `n` finished runs in `<workspace>/.aft/runs`. Each is created in a staging workspace of its own
 * batch and moved in: a new run tidies its runs folder (every run's temporary files), which for a
 * thousand runs in one folder would cost n² directory reads.
 */
export function writeSyntheticRuns(workspace: string, n: number, opts: SyntheticRunsOptions = {}): string[] {
  const root = path.join(workspace, RUNS_DIR);
  fs.mkdirSync(root, { recursive: true });
  const dirs: string[] = [];
  const BATCH = 25;
  for (let start = 0; start < n; start += BATCH) {
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-runs-staging-'));
    for (let i = start; i < Math.min(n, start + BATCH); i++) {
      let made = writeSyntheticRun(staging, i, opts);
      // Run ids end in 4 random characters: two of a thousand runs made in one second may meet.
      while (fs.existsSync(path.join(root, path.basename(made)))) {
        fs.rmSync(made, { recursive: true });
        made = writeSyntheticRun(staging, i, opts);
      }
      const to = path.join(root, path.basename(made));
      fs.renameSync(made, to);
      dirs.push(to);
    }
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return dirs;
}

/**
 * A real experiment that trains for as long as it is let (100,000 steps of a small AFT MLP on MNIST,
 * evaluated every 20): the live runs of the load case and `npm run bench:runs`.
 */
export function liveExperiment(name: string): string {
  return `name: ${name}
dataset: { source: mnist, train: 200, test: 500, split_seed: 0 }
pretrained:
  - { name: noise, noise: 64 }
downstream: { model: mlp, hidden: [64, 32] }
methods: [aft]
beta: { aft: 10 }
train: { steps: 100000, batch: 64, eval_every: 20 }
seeds: [0]
`;
}
