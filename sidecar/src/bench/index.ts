/**
 * `npm run bench`: milliseconds per training step of STL and AFT on the same model, batch and
 * backend, for the demo MLP, the CNN and a pretrained ResNet-18 student (batch 32, 64x64;
 * resnet.ts) (the paper's claim: AFT's overhead is small when the model dominates).
 * `-- --json` makes the last printed line one JSON object; `-- --models mlp,cnn,resnet18` picks rows.
 */
import { parseArgs } from 'node:util';
import { loadMnist } from '../data/mnist';
import { downstreamSchema, trainSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import { noiseFeatures } from '../features/noise';
import { initBackend, type BackendChoice } from '../runtime/tf';
import { trainJob } from '../train/job';
import { SharedMethodState } from '../methods/method';
import { benchResNet } from './resnet';

const { values } = parseArgs({ options: { json: { type: 'boolean' }, backend: { type: 'string' }, steps: { type: 'string' }, models: { type: 'string' } } });
const only = values.models?.split(',');

const METHODS: Record<'stl' | 'aft', ResolvedMethod> = {
  stl: { name: 'stl', kind: 'stl', kernel: 'linear', rho: 'sigmoid' },
  aft: { name: 'aft', kind: 'aft', kernel: 'linear', rho: 'sigmoid' },
};

async function msPerStep(model: DownstreamSpec, method: ResolvedMethod, steps: number): Promise<number> {
  const ds = loadMnist(1024, 128, 0);
  const psi = noiseFeatures('psi', 512, ds.train.n, 0, 0);
  const run = (n: number): Promise<{ seconds: number; steps: number }> =>
    trainJob({
      method,
      beta: method.kind === 'stl' ? 0 : 10,
      seed: 0,
      downstream: model,
      train: trainSchema.parse({ steps: n, batch: 128, eval_every: 1_000_000 }),
      numClasses: 10,
      trainData: { ...ds.train, inputShape: ds.inputShape },
      psiTrain: psi.train,
      psiWidth: psi.width,
      segments: [{ name: 'psi', offset: 0, width: psi.width }],
      evalData: { ...ds.test, inputShape: ds.inputShape },
      shared: new SharedMethodState(),
      dataKey: 'bench',
    }).then((r) => {
      r.model.dispose();
      r.method.dispose();
      return r;
    });
  await run(8); // warm-up: kernels and XNNPACK operators are created on first use
  // Runs of n and 2n steps: their difference removes the fixed costs (set-up, the final
  // evaluation). Three repetitions, median, so one slow moment does not decide the figure.
  const estimates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const a = await run(steps);
    const b = await run(2 * steps);
    estimates.push(((b.seconds - a.seconds) * 1000) / (b.steps - a.steps));
  }
  return estimates.sort((x, y) => x - y)[1];
}

async function main(): Promise<void> {
  const backend = await initBackend((values.backend ?? 'auto') as BackendChoice);
  const steps = Number(values.steps ?? 40);
  const out: Record<string, unknown> = { backend: backend.id, batch: 128, psi_width: 512 };
  const models: Record<string, DownstreamSpec> = {
    mlp: downstreamSchema.parse({ model: 'mlp', hidden: [128, 64] }),
    cnn: downstreamSchema.parse({ model: 'cnn', channels: [16, 32], hidden: [64] }),
  };
  for (const [name, spec] of Object.entries(models)) {
    if (only && !only.includes(name)) continue;
    const n = name === 'cnn' ? Math.max(8, Math.round(steps / 4)) * 2 : steps * 4;
    const stl = await msPerStep(spec, METHODS.stl, n);
    const aft = await msPerStep(spec, METHODS.aft, n);
    out[name] = { stl_ms: +stl.toFixed(2), aft_ms: +aft.toFixed(2), ratio: +(aft / stl).toFixed(3) };
    if (!values.json) console.log(`${name}: stl ${stl.toFixed(2)} ms/step, aft ${aft.toFixed(2)} ms/step, aft/stl ${(aft / stl).toFixed(3)}`);
  }
  if (!only || only.includes('resnet18')) {
    const r = await benchResNet(METHODS, Math.max(6, Math.round(steps / 4)));
    out.resnet18 = r;
    if (!values.json) {
      console.log(`resnet18 (pretrained student, batch ${r.batch}, ${r.size}x${r.size}): stl ${r.stl_ms} ms/step, aft ${r.aft_ms} ms/step, aft/stl ${r.ratio}; tensors' peak in a step ${r.step_tensor_peak_mb} MB, process peak RSS ${r.peak_rss_mb} MB`);
    }
  }
  console.log(JSON.stringify(out));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
