/**
 * The GPU check (scripts/gpu-check/README.md): one program, bundled as dist/sidecar/gpu-check.js,
 * that a GPU machine without Node runs from a carried folder (scripts/gpu-check/run.sh), within a
 * time budget, writing one JSON file after every section so that a run cut short still reports:
 *
 * - `aft gpu check`'s report (NVIDIA driver, CUDA and cuDNN libraries, verdicts) and the WebGPU
 *   adapter: vendor, architecture, every limit and feature. A software adapter ends the check
 *   unless `--allow-software` (lavapipe here; on a GPU machine it means Vulkan found no driver);
 * - the golden regulariser cases (test/golden/cases) on webgpu, GPU kernels only, with their
 *   worst relative errors (methods/golden.ts, as the golden test);
 * - ms per training step on webgpu for the demo MLP, the CNN, ResNet-18 and ViT-Tiny (skipped
 *   with why where the engine has no such model), STL and AFT, their ratio; the compile time of
 *   each (a first one-step job against the same job again) apart from the steady figures;
 * - extraction images/s, onnxruntime's WebGPU provider against its CPU provider, on a conv net
 *   the project's exporter writes, and the largest difference between their outputs;
 * - `aft demo --backend webgpu --steps N`'s wall time in a fresh folder (the teacher built too);
 * - the same step timings on wasm (the best CPU backend: XNNPACK on up to 8 threads);
 * - PyTorch's figures when `--pytorch FILE` names scripts/gpu-check/pytorch_cuda.py's output,
 *   with our speed as a fraction of theirs, and the targets: ResNet-18's step at least 10× the
 *   best CPU step and at least 0.3× PyTorch CUDA's speed, marked pass, fail or not measured.
 *
 * `node gpu-check.js aft ARGS...` is the `aft` CLI itself (the demo runs through it).
 * Exit codes: 0 the check ran and the golden cases pass (or --only left them out and no section
 * failed), 1 otherwise, 2 bad arguments.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { gpuReport } from '../../../core/node/gpu/check';
import { gpuFacts } from '../cli/gpu';
import { cliEntry } from '../cli/main';
import { ADAPTERS, compareGolden, goldenLabel, type GoldenCase } from '../methods/golden';
import { OnnxSession, type OnnxTensor } from '../runtime/onnx';
import { initBackend, tf, type BackendInfo } from '../runtime/tf';
import { describeAdapter, requestAdapter } from '../runtime/webgpu';
import { Rng } from '../util/rng';
import { convNetOnnx } from './onnxModels';
import { budgetedMsPerStep, STEP_METHODS, STEP_MODELS, type BudgetedSteps } from './steps';

type Json = Record<string, unknown>;

interface Options {
  out: string;
  allowSoftware: boolean;
  budgetS: number;
  pytorch?: string;
  repo: string;
  demoSteps?: number;
  /** The demo's cache folder (a built teacher in it is reused); default a fresh one, as on a new machine. */
  demoCache?: string;
  only?: Set<string>;
}

const SECTIONS = ['golden', 'steps', 'extraction', 'demo', 'cpu-steps'] as const;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}

const round = (x: number, d = 2): number => +x.toFixed(d);

class Check {
  readonly t0 = performance.now();
  readonly result: Json = {};

  constructor(readonly opts: Options) {}

  elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }

  leftS(): number {
    return this.opts.budgetS - this.elapsedS();
  }

  save(): void {
    this.result.elapsed_s = round(this.elapsedS(), 1);
    fs.mkdirSync(path.dirname(this.opts.out), { recursive: true });
    const tmp = `${this.opts.out}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.result, null, 2) + '\n');
    fs.renameSync(tmp, this.opts.out);
  }

  log(msg: string): void {
    process.stderr.write(`[${this.elapsedS().toFixed(0).padStart(3)} s] ${msg}\n`);
  }

  wanted(section: (typeof SECTIONS)[number]): boolean {
    return !this.opts.only || this.opts.only.has(section);
  }

  /** Runs a section if it is wanted and at least `minS` seconds are left; its result (or why not) under `name`. */
  async section(name: (typeof SECTIONS)[number], minS: number, body: () => Promise<Json>): Promise<void> {
    if (!this.wanted(name)) return;
    if (this.leftS() < minS) {
      this.result[name] = {
        skipped: `time limit: ${this.leftS().toFixed(0)} s of the ${this.opts.budgetS} s budget left, it needs ${minS} s`,
      };
      this.log(`${name}: skipped (time limit)`);
      this.save();
      return;
    }
    this.log(`${name}...`);
    const t = performance.now();
    try {
      this.result[name] = { ...(await body()), seconds: round((performance.now() - t) / 1000, 1) };
    } catch (e) {
      this.result[name] = { error: firstLine(e), seconds: round((performance.now() - t) / 1000, 1) };
      this.log(`${name}: error: ${firstLine(e)}`);
    }
    this.save();
  }
}

/** The adapter in full: what describeAdapter keeps, every limit and every feature. */
async function adapterSection(): Promise<Json> {
  const { adapter } = await requestAdapter();
  const limits: Record<string, number> = {};
  // Dawn's limits object keeps its values as accessors on the prototype.
  for (
    let o: object | null = adapter.limits;
    o && o !== Object.prototype;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    for (const k of Object.getOwnPropertyNames(o)) {
      const v = (adapter.limits as Record<string, unknown>)[k];
      if (typeof v === 'number') limits[k] = v;
    }
  }
  return {
    ...describeAdapter(adapter),
    info: { ...(adapter.info ?? {}) },
    all_limits: limits,
    features: [...adapter.features].sort(),
  };
}

async function goldenSection(c: Check): Promise<Json> {
  const dir = path.join(c.opts.repo, 'test', 'golden', 'cases');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  // As the golden test: tfjs would run small kernels on the CPU; the check is of the GPU kernels.
  const forward = tf.env().get('WEBGPU_CPU_FORWARD');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const cases: Json[] = [];
  const worst = { scalar: 0, array: 0 };
  try {
    for (const file of files) {
      const gc = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as GoldenCase;
      const adapter = ADAPTERS[gc.method];
      if (!adapter) {
        cases.push({ file, label: goldenLabel(file, gc), not_implemented: true });
        continue;
      }
      const t = performance.now();
      try {
        const { errors, failures } = compareGolden(gc, await adapter(gc));
        for (const [k, e] of Object.entries(errors)) {
          const kind = k === 'loss' || k === 'score' ? 'scalar' : 'array';
          worst[kind] = Math.max(worst[kind], e);
        }
        cases.push({
          file,
          label: goldenLabel(file, gc),
          ms: round(performance.now() - t, 0),
          errors: Object.fromEntries(Object.entries(errors).map(([k, e]) => [k, +e.toExponential(2)])),
          ...(failures.length ? { failures } : {}),
        });
      } catch (e) {
        cases.push({ file, label: goldenLabel(file, gc), error: firstLine(e) });
      }
    }
  } finally {
    tf.env().set('WEBGPU_CPU_FORWARD', forward);
  }
  const failed = cases.filter((x) => x.failures || x.error).length;
  return {
    cases: cases.length,
    passed: cases.filter((x) => !x.failures && !x.error && !x.not_implemented).length,
    failed,
    max_relative_error: {
      loss_or_score: +worst.scalar.toExponential(2),
      gradients_and_weights: +worst.array.toExponential(2),
    },
    tolerance: { loss_or_score: 1e-4, gradients_and_weights: 1e-3 },
    results: cases,
  };
}

/** Step timings of every model on the active backend, within `budgetS`. */
async function stepsSection(c: Check, backend: BackendInfo, budgetS: number, compile: boolean): Promise<Json> {
  const out: Json = {
    backend: backend.id,
    description: backend.description,
    threads: backend.threads,
    ...(backend.id === 'wasm' ? { note: 'the best CPU backend: XNNPACK on up to 8 threads' } : {}),
  };
  const models = STEP_MODELS.map((m) => ({ m, p: m.prepare() }));
  const runnable = models.filter((x) => 'spec' in x.p).length;
  const start = performance.now();
  for (const { m, p } of models) {
    if ('skip' in p) {
      out[m.name] = { what: m.what, skipped: p.skip };
      continue;
    }
    const left = budgetS - (performance.now() - start) / 1000;
    const remaining = models.filter((x) => 'spec' in x.p && !(x.m.name in out)).length || 1;
    // Two methods per model; what is left shared among the models still to run.
    const each = Math.max(3, Math.min(left, c.leftS() - 30) / remaining / 2);
    if (left < 6 || c.leftS() < 40) {
      out[m.name] = { what: m.what, skipped: 'time limit' };
      continue;
    }
    const data = m.data();
    const entry: Json = { what: m.what, batch: m.batch };
    try {
      for (const method of ['stl', 'aft'] as const) {
        c.log(`  ${backend.id} ${m.name} ${method} (about ${each.toFixed(0)} s)`);
        entry[method] = await budgetedMsPerStep(p.spec, STEP_METHODS[method], data, m.batch, each, { compile });
      }
      const stl = entry.stl as BudgetedSteps;
      const aft = entry.aft as BudgetedSteps;
      entry.stl_ms = stl.ms;
      entry.aft_ms = aft.ms;
      entry.aft_over_stl = round(aft.ms / stl.ms, 3);
    } catch (e) {
      entry.error = firstLine(e);
    }
    out[m.name] = entry;
    c.result[`steps_partial_${backend.id}`] = out;
    c.save();
  }
  delete c.result[`steps_partial_${backend.id}`];
  out.models_run = runnable;
  return out;
}

async function timeSession(
  s: OnnxSession,
  feeds: Record<string, OnnxTensor>,
  rows: number,
  budgetS: number,
): Promise<{ first_run_ms: number; images_per_s: number; runs: number; out: Record<string, OnnxTensor> }> {
  let t = performance.now();
  const out = await s.run(feeds);
  const first = performance.now() - t;
  await s.run(feeds);
  let runs = 0;
  t = performance.now();
  while (runs < 3 || ((performance.now() - t) / 1000 < budgetS && runs < 200)) {
    await s.run(feeds);
    runs++;
  }
  const seconds = (performance.now() - t) / 1000;
  return { first_run_ms: round(first, 1), images_per_s: round((rows * runs) / seconds, 1), runs, out };
}

async function extractionSection(c: Check, software: boolean): Promise<Json> {
  // On a GPU: a conv net with about DINOv2-S's cost per image (bench:extract's model); on a
  // software adapter a small one, or the check would not fit its time.
  const cfg = software
    ? { side: 64, channels: [16, 32, 64], hidden: 64, batch: 16 }
    : { side: 224, channels: [64, 128, 256, 256], hidden: 16, batch: 32 };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-gpu-check-onnx-'));
  const file = path.join(dir, 'convnet.onnx');
  fs.writeFileSync(file, convNetOnnx(cfg.side, cfg.channels, cfg.hidden));
  const rng = new Rng(5);
  const feeds: Record<string, OnnxTensor> = {
    input: {
      type: 'float32',
      data: Float32Array.from({ length: cfg.batch * cfg.side * cfg.side * 3 }, () => rng.normal()),
      dims: [cfg.batch, cfg.side, cfg.side, 3],
    },
  };
  const budget = Math.max(3, Math.min(software ? 5 : 15, (c.leftS() - 60) / 3));
  const res: Json = {
    model: `conv net ${cfg.side}×${cfg.side}×3, channels ${cfg.channels.join('/')}, dense ${cfg.hidden} (the project's ONNX export)`,
    batch: cfg.batch,
  };
  const outs: Record<string, Record<string, OnnxTensor>> = {};
  for (const device of ['webgpu', 'cpu'] as const) {
    const t = performance.now();
    try {
      const s = await OnnxSession.open(file, { device, log: (m) => c.log(`  ${m}`) });
      const open = performance.now() - t;
      const r = await timeSession(s, feeds, cfg.batch, budget);
      await s.release();
      outs[device] = r.out;
      res[device] = {
        provider: s.provider,
        open_ms: round(open, 1),
        first_run_ms: r.first_run_ms,
        images_per_s: r.images_per_s,
        runs: r.runs,
      };
    } catch (e) {
      res[device] = { error: firstLine(e) };
    }
  }
  const g = res.webgpu as { images_per_s?: number };
  const p = res.cpu as { images_per_s?: number };
  if (g.images_per_s && p.images_per_s) res.webgpu_over_cpu = round(g.images_per_s / p.images_per_s, 2);
  if (outs.webgpu && outs.cpu) {
    const diffs: Json = {};
    for (const [name, t] of Object.entries(outs.cpu)) {
      const a = t.data as Float32Array;
      const b = outs.webgpu[name]?.data as Float32Array | undefined;
      if (!b) continue;
      let d = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        d = Math.max(d, Math.abs(a[i] - b[i]));
        scale = Math.max(scale, Math.abs(a[i]));
      }
      diffs[name] = { max_abs_diff: +d.toExponential(2), relative_to_largest: +(d / (scale || 1)).toExponential(2) };
    }
    res.webgpu_vs_cpu = diffs;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return res;
}

async function demoSection(c: Check, steps: number, cache: string | undefined): Promise<Json> {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-gpu-check-demo-'));
  const timeoutS = Math.max(20, Math.min(240, c.leftS() - 45));
  const args = [process.argv[1], 'aft', 'demo', '--backend', 'webgpu', '--steps', String(steps), '--workspace', ws];
  const t = performance.now();
  const { code, tail, timedOut } = await new Promise<{ code: number | null; tail: string[]; timedOut: boolean }>(
    (resolve) => {
      // A fresh cache folder unless named: the teacher is built, as on a new machine.
      const child = spawn(process.execPath, args, {
        cwd: ws,
        env: { ...process.env, AFT_CACHE_DIR: cache ?? path.join(ws, 'cache') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      const keep = (b: Buffer): void => {
        for (const l of b.toString('utf8').split(/[\r\n]+/)) if (l.trim()) lines.push(l);
        if (lines.length > 60) lines.splice(0, lines.length - 60);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutS * 1000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, tail: lines, timedOut });
      });
    },
  );
  const wall = (performance.now() - t) / 1000;
  fs.rmSync(ws, { recursive: true, force: true });
  const results = tail.filter((l) => /^(stl|kd|aft)\s+\d/.test(l) || /total time|teacher \(|backend webgpu/.test(l));
  // Where it got to: the teacher's build and the jobs print their progress.
  const progress = [...tail].reverse().find((l) => /step \d+\/\d+|^job \d+\/\d+/.test(l.trim()));
  return {
    command: `aft demo --backend webgpu --steps ${steps}`,
    teacher_cache: cache ? `given: ${cache}` : 'fresh (the teacher is built)',
    wall_s: round(wall, 1),
    exit_code: code,
    ...(timedOut ? { timed_out_after_s: round(timeoutS, 0), got_to: progress?.trim() } : {}),
    results,
    tail: tail.slice(-12),
  };
}

interface TorchFigures {
  torch?: string;
  device?: string;
  gpu?: string;
  models?: Record<string, { stl_ms?: number; aft_ms?: number; skipped?: string }>;
}

/** Our figures next to PyTorch's and the best CPU backend's, and the targets. */
function compare(c: Check): void {
  const gpu = c.result.steps as Json | undefined;
  const cpu = c.result['cpu-steps'] as Json | undefined;
  const torchRun = c.result.pytorch as TorchFigures | undefined;
  const torch = torchRun?.models;
  const torchDevice = torchRun?.device;
  const table: Json = {};
  for (const m of STEP_MODELS) {
    const g = gpu?.[m.name] as { stl_ms?: number; aft_ms?: number; skipped?: string } | undefined;
    const w = cpu?.[m.name] as { stl_ms?: number; aft_ms?: number } | undefined;
    const p = torch?.[m.name];
    const row: Json = {};
    for (const k of ['stl', 'aft'] as const) {
      const ours = g?.[`${k}_ms`];
      const cpuMs = w?.[`${k}_ms`];
      const torchMs = p?.[`${k}_ms`];
      row[k] = {
        webgpu_ms: ours ?? null,
        cpu_ms: cpuMs ?? null,
        pytorch_ms: torchMs ?? null,
        speedup_vs_cpu: ours && cpuMs ? round(cpuMs / ours, 2) : null,
        fraction_of_pytorch_speed: ours && torchMs ? round(torchMs / ours, 3) : null,
      };
    }
    if (g?.skipped) row.webgpu_skipped = g.skipped;
    table[m.name] = row;
  }
  c.result.comparison = { pytorch_device: torchDevice ?? null, ...table };
  // Reported once, apart from the steady figures: the first training job on the adapter (the
  // demo MLP, STL) compiles the shaders every model uses; later models add their own.
  const first = (gpu?.mlp as { stl?: BudgetedSteps } | undefined)?.stl;
  if (first?.compile_ms !== undefined)
    c.result.shader_compile = {
      first_job_ms: first.first_job_ms,
      same_job_again_ms: first.warm_job_ms,
      compile_ms: first.compile_ms,
      what: 'the first one-step training job on the adapter (demo MLP, STL) against the same job again',
    };
  const r = table.resnet18 as Record<
    'stl' | 'aft',
    {
      speedup_vs_cpu: number | null;
      fraction_of_pytorch_speed: number | null;
      cpu_ms: number | null;
      pytorch_ms: number | null;
      webgpu_ms: number | null;
    }
  > & { webgpu_skipped?: string };
  const target = (
    name: string,
    key: 'speedup_vs_cpu' | 'fraction_of_pytorch_speed',
    min: number,
    missing: (k: 'stl' | 'aft') => string | undefined,
  ): Json => {
    const per: Json = {};
    let status: 'pass' | 'fail' | 'not measured' = 'pass';
    const why: string[] = [];
    for (const k of ['stl', 'aft'] as const) {
      const v = r[k][key];
      per[k] = v;
      if (v === null) {
        status = 'not measured';
        const w = missing(k) ?? 'not measured';
        if (!why.includes(w)) why.push(w);
      } else if (v < min && status !== 'not measured') status = 'fail';
    }
    return { target: name, threshold: min, ...per, status, ...(why.length ? { why: why.join('; ') } : {}) };
  };
  const gpuMissing = (): string | undefined => r.webgpu_skipped ?? (gpu ? undefined : 'the webgpu steps did not run');
  c.result.targets = [
    target(
      'ResNet-18 step on webgpu at least 10× as fast as the best CPU step (wasm)',
      'speedup_vs_cpu',
      10,
      (k) => gpuMissing() ?? (r[k].cpu_ms === null ? 'no CPU figure (cpu-steps did not run or skipped it)' : undefined),
    ),
    torchDevice && torchDevice !== 'cuda'
      ? {
          target: "ResNet-18 step on webgpu at least 0.3× PyTorch CUDA's speed",
          threshold: 0.3,
          status: 'not measured',
          why: `PyTorch ran on ${torchDevice}, not CUDA`,
        }
      : target(
          "ResNet-18 step on webgpu at least 0.3× PyTorch CUDA's speed",
          'fraction_of_pytorch_speed',
          0.3,
          (k) =>
            gpuMissing() ??
            (r[k].pytorch_ms === null
              ? c.opts.pytorch
                ? 'no PyTorch figure for resnet18'
                : 'no --pytorch figures'
              : undefined),
        ),
  ];
}

function printTable(c: Check): void {
  const r = c.result;
  const lines: string[] = [''];
  const a = r.adapter as
    { description?: string; vendor?: string; architecture?: string; software?: boolean; error?: string } | undefined;
  lines.push(
    `adapter: ${a?.error ? `none (${a.error})` : `${a?.description || a?.vendor} [${a?.vendor}/${a?.architecture}]${a?.software ? ' (software)' : ''}`}`,
  );
  const verdicts = (r.gpu_check as { verdicts?: { id: string; usable: boolean }[] } | undefined)?.verdicts ?? [];
  if (verdicts.length)
    lines.push(`aft gpu check: ${verdicts.map((v) => `${v.id} ${v.usable ? 'ok' : 'missing'}`).join(', ')}`);
  const g = r.golden as
    | { passed?: number; failed?: number; cases?: number; max_relative_error?: Json; error?: string; skipped?: string }
    | undefined;
  if (g)
    lines.push(
      `golden on webgpu: ${g.error ?? g.skipped ?? `${g.passed}/${g.cases} pass, ${g.failed} fail; worst relative error ${JSON.stringify(g.max_relative_error)}`}`,
    );
  const { pytorch_device: torchDevice, ...cmp } = (r.comparison ?? {}) as Record<
    string,
    Record<string, Json> & { webgpu_skipped?: string }
  > & { pytorch_device?: string | null };
  if (r.comparison) {
    lines.push('');
    lines.push(
      `model     method  webgpu ms  cpu ms    ${`torch ${torchDevice ?? ''} ms`.padEnd(14)} ×cpu     ×torch   compile ms`,
    );
    const steps = r.steps as Record<string, Record<string, BudgetedSteps> & { aft_over_stl?: number }> | undefined;
    for (const [name, row] of Object.entries(cmp)) {
      if (row.webgpu_skipped && !row.stl.pytorch_ms) {
        lines.push(`${name.padEnd(9)} skipped: ${row.webgpu_skipped}`);
        continue;
      }
      for (const k of ['stl', 'aft']) {
        const x = row[k] as Record<string, number | null>;
        const f = (v: number | null | undefined, w = 9): string =>
          (v === null || v === undefined ? '-' : String(v)).padEnd(w);
        lines.push(
          `${(k === 'stl' ? name : '').padEnd(9)} ${k.padEnd(7)} ${f(x.webgpu_ms, 10)} ${f(x.cpu_ms)} ${f(x.pytorch_ms, 14)} ${f(x.speedup_vs_cpu, 8)} ${f(x.fraction_of_pytorch_speed, 8)} ${f(steps?.[name]?.[k]?.compile_ms)}`,
        );
      }
      if (steps?.[name]?.aft_over_stl) lines.push(`${''.padEnd(9)} aft/stl ${steps[name].aft_over_stl}`);
      if (row.webgpu_skipped) lines.push(`${''.padEnd(9)} webgpu skipped: ${row.webgpu_skipped}`);
    }
  }
  const e = r.extraction as
    | {
        webgpu?: { images_per_s?: number; error?: string };
        cpu?: { images_per_s?: number; error?: string };
        webgpu_over_cpu?: number;
        model?: string;
        skipped?: string;
        error?: string;
      }
    | undefined;
  if (e)
    lines.push(
      '',
      `extraction (${e.model ?? ''}): ${e.skipped ?? e.error ?? `webgpu ${e.webgpu?.images_per_s ?? e.webgpu?.error} img/s, cpu ${e.cpu?.images_per_s ?? e.cpu?.error} img/s, ×${e.webgpu_over_cpu ?? '-'}`}`,
    );
  const sc = r.shader_compile as { compile_ms?: number } | undefined;
  if (sc) lines.push(`shader compile (first training job on the adapter): ${sc.compile_ms} ms`);
  const d = r.demo as
    | {
        wall_s?: number;
        exit_code?: number;
        command?: string;
        skipped?: string;
        error?: string;
        timed_out_after_s?: number;
        got_to?: string;
      }
    | undefined;
  if (d)
    lines.push(
      `demo: ${d.skipped ?? d.error ?? `${d.command}: ${d.wall_s} s, ${d.timed_out_after_s ? `stopped at the time limit (${d.got_to ?? ''})` : `exit ${d.exit_code}`}`}`,
    );
  for (const t of (r.targets as
    { target: string; status: string; why?: string; stl?: number; aft?: number }[] | undefined) ?? []) {
    lines.push(
      `target: ${t.target}: ${t.status.toUpperCase()}${t.status === 'not measured' ? ` (${t.why})` : ` (stl ${t.stl}, aft ${t.aft})`}`,
    );
  }
  lines.push('', `${r.ok ? 'OK' : 'NOT OK'}: ${String(r.verdict)} (${round(c.elapsedS(), 0)} s; ${c.opts.out})`);
  process.stdout.write(lines.join('\n') + '\n');
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      'allow-software': { type: 'boolean' },
      'budget-s': { type: 'string' },
      pytorch: { type: 'string' },
      repo: { type: 'string' },
      'demo-steps': { type: 'string' },
      'demo-cache': { type: 'string' },
      only: { type: 'string' },
    },
  });
  const budgetS = Number(values['budget-s'] ?? 420);
  if (!(budgetS > 0)) throw new Error(`--budget-s expects seconds, got '${values['budget-s']}'`);
  const demoSteps = values['demo-steps'] !== undefined ? Number(values['demo-steps']) : undefined;
  if (demoSteps !== undefined && !(Number.isInteger(demoSteps) && demoSteps > 0))
    throw new Error(`--demo-steps expects a positive integer, got '${values['demo-steps']}'`);
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
  for (const s of only ?? [])
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`--only takes ${SECTIONS.join(', ')}; got '${s}'`);
  const repo = path.resolve(values.repo ?? process.cwd());
  if (!fs.existsSync(path.join(repo, 'test', 'golden', 'cases')))
    throw new Error(`${repo} is not the repository (no test/golden/cases; --repo DIR names it)`);
  return {
    out: path.resolve(values.out ?? 'gpu-check.json'),
    allowSoftware: !!values['allow-software'],
    budgetS,
    ...(values.pytorch ? { pytorch: path.resolve(values.pytorch) } : {}),
    repo,
    ...(demoSteps ? { demoSteps } : {}),
    ...(values['demo-cache'] ? { demoCache: path.resolve(values['demo-cache']) } : {}),
    ...(only ? { only } : {}),
  };
}

async function runCheck(opts: Options): Promise<number> {
  const c = new Check(opts);
  c.result.started = new Date().toISOString();
  c.result.budget_s = opts.budgetS;
  c.result.node = process.version;
  c.result.machine = {
    platform: `${process.platform}-${process.arch}`,
    cpus: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? '?',
    memory_gib: round(os.totalmem() / 2 ** 30, 1),
  };
  c.result.env = Object.fromEntries(
    ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'LD_LIBRARY_PATH', 'AFT_WASM_THREADS']
      .filter((k) => process.env[k])
      .map((k) => [k, process.env[k]]),
  );
  c.log(`GPU check: budget ${opts.budgetS} s, results in ${opts.out}`);
  try {
    c.result.gpu_check = gpuReport(
      await gpuFacts(process.env.AFT_GPU_RUNTIME ?? path.join(os.tmpdir(), 'aft-no-gpu-runtime')),
    );
  } catch (e) {
    c.result.gpu_check = { error: firstLine(e) };
  }
  try {
    c.result.adapter = await adapterSection();
  } catch (e) {
    c.result.adapter = { error: firstLine(e) };
  }
  const adapter = c.result.adapter as { software?: boolean; softwareReason?: string; error?: string };
  c.save();
  if (adapter.error || (adapter.software && !opts.allowSoftware)) {
    c.result.ok = false;
    c.result.verdict = adapter.error
      ? `no WebGPU adapter: ${adapter.error}`
      : `the WebGPU adapter is a software rasteriser (${adapter.softwareReason}), not the GPU: Vulkan found no GPU driver (see VK_DRIVER_FILES in scripts/gpu-check/README.md); --allow-software measures it anyway`;
    c.save();
    printTable(c);
    return 1;
  }
  let backend: BackendInfo;
  try {
    backend = await initBackend('webgpu', (m) => c.log(m));
    c.result.backend = { id: backend.id, description: backend.description };
  } catch (e) {
    c.result.ok = false;
    c.result.verdict = `the webgpu backend did not start: ${firstLine(e)}`;
    c.save();
    printTable(c);
    return 1;
  }
  if (opts.pytorch) {
    try {
      c.result.pytorch = JSON.parse(fs.readFileSync(opts.pytorch, 'utf8')) as Json;
    } catch (e) {
      c.result.pytorch = { skipped: `--pytorch ${opts.pytorch}: ${firstLine(e)}` };
    }
  }
  await c.section('golden', 20, () => goldenSection(c));
  // A software adapter (lavapipe, --allow-software) is some 100× slower: shorter step timings
  // leave the demo (whose teacher is built on webgpu too) its time.
  const software = !!adapter.software;
  await c.section('steps', 30, () => stepsSection(c, backend, Math.min(software ? 80 : 180, c.leftS() * 0.4), true));
  await c.section('extraction', 25, () => extractionSection(c, software));
  await c.section('demo', 40, () => demoSection(c, opts.demoSteps ?? (software ? 10 : 100), opts.demoCache));
  await c.section('cpu-steps', 25, async () =>
    stepsSection(c, await initBackend('wasm', (m) => c.log(m)), Math.min(120, c.leftS() - 15), false),
  );
  compare(c);
  const golden = c.result.golden as { failed?: number; passed?: number; error?: string } | undefined;
  const errors = SECTIONS.filter((s) => (c.result[s] as { error?: string } | undefined)?.error);
  // The golden cases decide, unless --only left them out; a section that crashed always counts.
  const goldenOk =
    !c.wanted('golden') || (!!golden && !golden.error && golden.failed === 0 && (golden.passed ?? 0) > 0);
  c.result.ok = goldenOk && errors.length === 0;
  const demo = c.result.demo as { timed_out_after_s?: number } | undefined;
  c.result.verdict = c.result.ok
    ? `the check ran on the adapter; ${c.wanted('golden') ? 'the golden cases pass on webgpu' : `sections ${[...(opts.only ?? [])].join(', ')} only`}${demo?.timed_out_after_s ? '; the demo stopped at the time limit' : ''}`
    : [
        !golden
          ? 'the golden cases did not run'
          : golden.error
            ? `golden: ${golden.error}`
            : golden.failed
              ? `${golden.failed} golden case(s) fail on webgpu`
              : '',
        ...errors.map((s) => `${s} failed`),
      ]
        .filter(Boolean)
        .join('; ') || 'see the sections';
  c.result.finished = new Date().toISOString();
  c.save();
  printTable(c);
  return c.result.ok ? 0 : 1;
}

if (process.argv[2] === 'aft') {
  cliEntry(process.argv.slice(3));
} else {
  let opts: Options | undefined;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(
      `error: ${firstLine(e)}\nusage: node gpu-check.js [--out FILE] [--allow-software] [--budget-s S] [--pytorch FILE] [--repo DIR] [--demo-steps N] [--demo-cache DIR] [--only ${SECTIONS.join(',')}]\n       node gpu-check.js aft ARGS...\n`,
    );
    process.exitCode = 2;
  }
  if (opts) {
    runCheck(opts).then(
      (code) => {
        process.exitCode = code;
        // Dawn and the wasm backend's pool may hold the event loop; the results are written.
        setTimeout(() => process.exit(code), 500).unref();
      },
      (e: unknown) => {
        process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
      },
    );
  }
}
