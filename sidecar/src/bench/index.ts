/**
 * `npm run bench`: milliseconds per training step of STL and AFT on the same model, batch and
 * backend, for the demo MLP and for the CNN (the paper's claim: AFT's overhead is small when the
 * model dominates). `-- --pytorch` also runs scripts/bench/pytorch_step.py (the same models, batch,
 * optimiser and regulariser in PyTorch on the CPU, with as many threads as this backend uses) and
 * prints each figure next to PyTorch's, with our speed as a fraction of PyTorch's. `-- --json`
 * makes the last printed line one JSON object.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { downstreamSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import { initBackend, type BackendChoice } from '../runtime/tf';
import { mnistStepData, msPerStep, STEP_METHODS as METHODS } from './steps';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, backend: { type: 'string' }, steps: { type: 'string' }, pytorch: { type: 'boolean' }, python: { type: 'string' } } });

type StepFigures = Record<string, { stl_ms: number; aft_ms: number }>;

/** PyTorch's figures for the same benchmark, or why there are none (it is optional). */
function pytorchFigures(threads: number, steps: number): { figures?: StepFigures & { torch: string; threads: number }; why?: string } {
  const script = path.join(__dirname, '..', '..', 'scripts', 'bench', 'pytorch_step.py');
  const python = values.python ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, '--threads', String(threads), '--steps', String(steps)], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.error) return { why: `${python} did not run (${r.error.message}); --python PATH names another` };
  if (r.status !== 0) return { why: `${script} failed: ${r.stderr.trim().split('\n').pop() ?? ''} (it needs PyTorch: Debian's python3-torch, or --python PATH)` };
  return { figures: JSON.parse(r.stdout.trim().split('\n').pop()!) as StepFigures & { torch: string; threads: number } };
}

async function main(): Promise<void> {
  const backend = await initBackend((values.backend ?? 'auto') as BackendChoice);
  const steps = Number(values.steps ?? 40);
  const out: Record<string, unknown> = { backend: backend.id, threads: backend.threads, batch: 128, psi_width: 512 };
  if (!values.json) console.log(`${backend.description}, batch 128, ψ 512`);
  const models: Record<string, DownstreamSpec> = {
    mlp: downstreamSchema.parse({ model: 'mlp', hidden: [128, 64] }),
    cnn: downstreamSchema.parse({ model: 'cnn', channels: [16, 32], hidden: [64] }),
  };
  const data = mnistStepData();
  for (const [name, spec] of Object.entries(models)) {
    const n = name === 'cnn' ? Math.max(8, Math.round(steps / 4)) * 2 : steps * 4;
    const stl = await msPerStep(spec, METHODS.stl, data, 128, n);
    const aft = await msPerStep(spec, METHODS.aft, data, 128, n);
    out[name] = { stl_ms: +stl.toFixed(2), aft_ms: +aft.toFixed(2), ratio: +(aft / stl).toFixed(3) };
    if (!values.json) console.log(`${name}: stl ${stl.toFixed(2)} ms/step, aft ${aft.toFixed(2)} ms/step, aft/stl ${(aft / stl).toFixed(3)}`);
  }
  if (values.pytorch) {
    const torch = pytorchFigures(backend.threads, steps);
    if (torch.figures) {
      out.pytorch = torch.figures;
      for (const name of Object.keys(models)) {
        const ours = out[name] as { stl_ms: number; aft_ms: number };
        const theirs = torch.figures[name];
        const speed = { stl: +(theirs.stl_ms / ours.stl_ms).toFixed(3), aft: +(theirs.aft_ms / ours.aft_ms).toFixed(3) };
        (out[name] as Record<string, unknown>).speed_vs_pytorch = speed;
        if (!values.json) console.log(`${name} vs PyTorch ${torch.figures.torch} (${torch.figures.threads} thread${torch.figures.threads === 1 ? '' : 's'}): stl ${ours.stl_ms} vs ${theirs.stl_ms} ms (${speed.stl}× its speed), aft ${ours.aft_ms} vs ${theirs.aft_ms} ms (${speed.aft}×)`);
      }
    } else {
      out.pytorch = { skipped: torch.why };
      if (!values.json) console.log(`PyTorch not measured: ${torch.why}`);
    }
  }
  console.log(JSON.stringify(out));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
