/**
 * `npm run bench`: milliseconds per training step of STL and AFT on the same model, batch and
 * backend, for the demo MLP, the CNN and the pretrained students ResNet-18 (batch 32, 64x64),
 * ViT-Tiny (batch 16, 224x224), EfficientNet-B0 (batch 32, 64x64) and BERT Small (batch 16 of
 * 64 tokens) (students.ts) (the paper's claim: AFT's overhead is small when the
 * model dominates). `-- --pytorch` also runs scripts/bench/pytorch_step.py (MLP, CNN) and
 * pytorch_students.py (the same models, batch, optimiser and regulariser in PyTorch on the CPU,
 * with as many threads as this backend uses) and prints a table of each figure next to PyTorch's
 * with our speed as a fraction of PyTorch's. `-- --json` makes the last printed line one JSON
 * object; `-- --models mlp,cnn,resnet18,vit-tiny,effnet-b0,bert-small` picks rows. `-- --cpu-time` times
 * every row (ours and PyTorch's) in process CPU time instead of wall time: at one thread, a figure
 * that a busy machine's other processes do not inflate. `-- --rounds N` measures everything N times,
 * ours and PyTorch's in turn, and ends with each row's medians and the range of our speed as a
 * fraction of PyTorch's: on a shared machine one round's ratio can be off by half either way.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { downstreamSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import { initBackend, type BackendChoice } from '../runtime/tf';
import { median, mnistStepData, msPerStep, STEP_METHODS as METHODS, type StepClock } from './steps';
import { benchStudent, STUDENT_BENCHES } from './students';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean' },
    backend: { type: 'string' },
    steps: { type: 'string' },
    models: { type: 'string' },
    pytorch: { type: 'boolean' },
    python: { type: 'string' },
    'cpu-time': { type: 'boolean' },
    rounds: { type: 'string' },
  },
});
const only = values.models?.split(',');
const clock: StepClock = values['cpu-time'] ? 'cpu' : 'wall';

interface StepFigures {
  stl_ms: number;
  aft_ms: number;
}

/** A PyTorch reference script's last JSON line, or why there is none (PyTorch is optional). */
function pytorchRun<T>(script: string, args: string[]): { figures?: T; why?: string } {
  const file = path.join(__dirname, '..', '..', 'scripts', 'bench', script);
  const python = values.python ?? '/usr/bin/python3';
  const r = spawnSync(python, [file, ...args], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.error) return { why: `${python} did not run (${r.error.message}); --python PATH names another` };
  if (r.status !== 0)
    return {
      why: `${script} failed: ${r.stderr.trim().split('\n').pop() ?? ''} (it needs PyTorch: Debian's python3-torch, or --python PATH)`,
    };
  return { figures: JSON.parse(r.stdout.trim().split('\n').pop()!) as T };
}

/** PyTorch's figure for each row measured here, side by side (at the same thread count). */
function comparePytorch(out: Record<string, unknown>, threads: number, steps: number): void {
  const theirs: Record<string, StepFigures> = {};
  const skipped: string[] = [];
  // The scripts say which BLAS PyTorch loaded: the reference one makes its products ~10x slow.
  const blas: string[] = [];
  let version = '';
  if (out.mlp || out.cnn) {
    const r = pytorchRun<{ torch: string; blas?: string | null } & Record<'mlp' | 'cnn', StepFigures>>(
      'pytorch_step.py',
      ['--threads', String(threads), '--steps', String(steps), ...(clock === 'cpu' ? ['--cpu-time'] : [])],
    );
    if (r.figures) {
      ({ mlp: theirs.mlp, cnn: theirs.cnn, torch: version } = r.figures);
      if (r.figures.blas) blas.push(r.figures.blas);
    } else skipped.push(r.why!);
  }
  for (const row of Object.keys(STUDENT_BENCHES)) {
    if (!out[row]) continue;
    const r = pytorchRun<{ torch: string; blas?: string | null } & StepFigures>('pytorch_students.py', [
      '--model',
      row,
      '--threads',
      String(threads),
      '--json',
      ...(clock === 'cpu' ? ['--cpu-time'] : []),
    ]);
    if (r.figures) {
      version = r.figures.torch;
      theirs[row] = r.figures;
      if (r.figures.blas) blas.push(r.figures.blas);
    } else skipped.push(r.why!);
  }
  out.pytorch = {
    torch: version,
    threads,
    ...theirs,
    ...(blas.length ? { blas: [...new Set(blas)] } : {}),
    ...(skipped.length ? { skipped } : {}),
  };
  for (const why of skipped) if (!values.json) console.log(`PyTorch not measured: ${why}`);
  if (!values.json && blas.some((b) => /\/blas\/libblas\.so/.test(b)))
    console.log(
      'PyTorch runs on the reference BLAS (libblas3): its products are far slower than they can be; install OpenBLAS (Debian: libopenblas0-pthread) for a fair comparison',
    );
  const rows: string[][] = [];
  for (const [name, t] of Object.entries(theirs)) {
    const ours = out[name] as StepFigures & { speed_vs_pytorch?: unknown };
    if (!ours) continue;
    const speed = { stl: +(t.stl_ms / ours.stl_ms).toFixed(3), aft: +(t.aft_ms / ours.aft_ms).toFixed(3) };
    ours.speed_vs_pytorch = speed;
    rows.push([name, 'stl', String(ours.stl_ms), String(t.stl_ms), `${speed.stl}×`]);
    rows.push([name, 'aft', String(ours.aft_ms), String(t.aft_ms), `${speed.aft}×`]);
  }
  if (!values.json && rows.length) {
    console.log(`\nms per step against PyTorch ${version}, ${threads} thread${threads === 1 ? '' : 's'} each:`);
    printTable(['model', 'method', 'ours ms', 'PyTorch ms', 'our speed / PyTorch'], rows);
  }
}

/** Columns padded to their widest cell, numbers right-aligned. */
function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

type Backend = Awaited<ReturnType<typeof initBackend>>;

/** One round: every chosen row measured once (and PyTorch's, with --pytorch). */
async function measureRound(backend: Backend, steps: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {
    backend: backend.id,
    threads: backend.threads,
    batch: 128,
    psi_width: 512,
    clock,
  };
  if (!values.json)
    console.log(
      `${backend.description}, batch 128, ψ 512${clock === 'cpu' ? ', CPU time per step (the MLP and CNN rows)' : ''}`,
    );
  if (clock === 'cpu' && backend.threads > 1 && !values.json)
    console.log('CPU time sums the threads (their waiting too): compare it at one thread (AFT_WASM_THREADS=1)');
  const models: Record<string, DownstreamSpec> = {
    mlp: downstreamSchema.parse({ model: 'mlp', hidden: [128, 64] }),
    cnn: downstreamSchema.parse({ model: 'cnn', channels: [16, 32], hidden: [64] }),
  };
  const data = mnistStepData();
  for (const [name, spec] of Object.entries(models)) {
    if (only && !only.includes(name)) continue;
    const n = name === 'cnn' ? Math.max(8, Math.round(steps / 4)) * 2 : steps * 4;
    const stl = await msPerStep(spec, METHODS.stl, data, 128, n, 8, clock);
    const aft = await msPerStep(spec, METHODS.aft, data, 128, n, 8, clock);
    out[name] = { stl_ms: +stl.toFixed(2), aft_ms: +aft.toFixed(2), ratio: +(aft / stl).toFixed(3) };
    if (!values.json)
      console.log(
        `${name}: stl ${stl.toFixed(2)} ms/step, aft ${aft.toFixed(2)} ms/step, aft/stl ${(aft / stl).toFixed(3)}`,
      );
  }
  for (const name of Object.keys(STUDENT_BENCHES) as (keyof typeof STUDENT_BENCHES)[]) {
    if (only && !only.includes(name)) continue;
    // ViT-Tiny's step at 224x224 and BERT Small's take seconds on a CPU backend: fewer steps.
    const slow = name === 'vit-tiny' || name === 'bert-small';
    const n = slow ? Math.max(2, Math.round(steps / 20)) : Math.max(6, Math.round(steps / 4));
    const r = await benchStudent(name, METHODS, n, clock);
    out[name] = r;
    if (!values.json) {
      console.log(
        `${name} (pretrained student, batch ${r.batch}, ${STUDENT_BENCHES[name].text ? `${r.size} tokens` : `${r.size}x${r.size}`}): stl ${r.stl_ms} ms/step, aft ${r.aft_ms} ms/step, aft/stl ${r.ratio}; tensors' peak in a step ${r.step_tensor_peak_mb} MB, process peak RSS ${r.peak_rss_mb} MB${r.estimate_mb === undefined ? '' : ` (estimated ${r.estimate_mb} MB)`}`,
      );
    }
  }
  if (values.pytorch) comparePytorch(out, backend.threads, steps);
  return out;
}

/** Each row's medians over the rounds and the range of our speed as a fraction of PyTorch's. */
function summariseRounds(rounds: Record<string, unknown>[]): Record<string, unknown> {
  type Row = StepFigures & { speed_vs_pytorch?: { stl: number; aft: number } };
  const summary: Record<string, unknown> = {};
  const table: string[][] = [];
  for (const name of Object.keys(rounds[0])) {
    const rows = rounds.map((r) => r[name] as Row | undefined).filter((r): r is Row => typeof r?.stl_ms === 'number');
    if (rows.length !== rounds.length) continue;
    const entry: Record<string, unknown> = {};
    for (const method of ['stl', 'aft'] as const) {
      const ours = median(rows.map((r) => r[`${method}_ms`]));
      const theirs = rounds
        .map((r) => (r.pytorch as Record<string, StepFigures | undefined> | undefined)?.[name]?.[`${method}_ms`])
        .filter((t): t is number => t !== undefined);
      const speeds = rows.map((r) => r.speed_vs_pytorch?.[method]).filter((v): v is number => v !== undefined);
      const compared = speeds.length === rounds.length && theirs.length === rounds.length;
      const [low, high] = [Math.min(...speeds), Math.max(...speeds)];
      entry[method] = {
        ours_ms: +ours.toFixed(2),
        ...(compared
          ? {
              pytorch_ms: +median(theirs).toFixed(2),
              speed_vs_pytorch: +median(speeds).toFixed(3),
              speed_range: [low, high],
            }
          : {}),
      };
      if (compared)
        table.push([
          name,
          method,
          ours.toFixed(2),
          median(theirs).toFixed(2),
          `${median(speeds).toFixed(3)}×`,
          `${low.toFixed(2)}–${high.toFixed(2)}×`,
        ]);
    }
    summary[name] = entry;
  }
  if (!values.json && table.length) {
    console.log(`\nmedians over ${rounds.length} rounds:`);
    printTable(['model', 'method', 'ours ms', 'PyTorch ms', 'our speed / PyTorch', 'range'], table);
  }
  return summary;
}

async function main(): Promise<void> {
  const backend = await initBackend((values.backend ?? 'auto') as BackendChoice);
  const steps = Number(values.steps ?? 40);
  const n = Number(values.rounds ?? 1);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--rounds must be a whole number ≥ 1, got ${values.rounds}`);
  const rounds: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    if (n > 1 && !values.json) console.log(`\nround ${i + 1} of ${n}`);
    rounds.push(await measureRound(backend, steps));
  }
  console.log(JSON.stringify(n === 1 ? rounds[0] : { rounds, summary: summariseRounds(rounds) }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
