/**
 * WebGPU computes what the CPU backends compute. Training: the same AFT job (same data, seed,
 * batches) on webgpu and on wasm gives the same losses at every evaluation, the same ρ and the
 * same parameters after its steps, for the demo MLP and for a small CNN. Extraction: the ONNX
 * fixtures give the same outputs on onnxruntime's WebGPU provider as on its CPU provider, within
 * 1e-5 (measured on lavapipe: 5.4e-7 for tiny-vit, 1.8e-7 for tiny-bert), in this thread and in the worker thread
 * that feature extraction uses.
 *
 * Tolerances (float32 on both sides; measured on lavapipe in brackets):
 * - ce, reg and loss at each evaluation: 1e-5 relative [1.3e-6];
 * - ρ: 1e-6 absolute [9e-8];
 * - every parameter tensor: max |Δ| ≤ 1e-4 · max |w| [8.1e-6]. Adam divides each gradient by its
 *   running RMS, so round-off differences in small gradients grow step by step instead of
 *   averaging out: the margin is for that, over these few steps only;
 * - train and eval accuracy: at most one example apart [identical].
 *
 * Runs when AFT_TEST_BACKENDS lists webgpu (the default; see test/helpers/backends.ts) and fails
 * when webgpu does not start.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadMnist } from '../../sidecar/src/data/mnist';
import { downstreamSchema, trainSchema, type DownstreamSpec } from '../../core/node/experiment/schema';
import { noiseFeatures } from '../../sidecar/src/features/noise';
import { SharedMethodState } from '../../sidecar/src/methods/method';
import { modelWeights } from '../../sidecar/src/models/model';
import type { StTensor } from '../../core/node/io/safetensors';
import { OnnxSession, ThreadedOnnxSession, type OnnxRunner, type OnnxTensor } from '../../sidecar/src/runtime/onnx';
import { initBackend } from '../../sidecar/src/runtime/tf';
import { Rng } from '../../sidecar/src/util/rng';
import { trainJob, type EvalPoint } from '../../sidecar/src/train/job';
import { skipUnlessWebgpu, startTestBackend } from '../helpers/backends';

interface Trace {
  evals: EvalPoint[];
  weights: Record<string, StTensor>;
  rho: Float32Array;
}

/** One AFT job (linear kernel, sigmoid ρ, β 10) on `backend`. */
async function train(
  backend: 'wasm' | 'webgpu',
  downstream: DownstreamSpec,
  rows: number,
  testRows: number,
  batch: number,
  steps: number,
  evalEvery: number,
): Promise<Trace> {
  if (backend === 'webgpu') await startTestBackend('webgpu');
  else await initBackend('wasm');
  const ds = loadMnist(rows, testRows, 0);
  const psi = noiseFeatures('psi', 256, ds.train.n, 0, 0);
  const evals: EvalPoint[] = [];
  const r = await trainJob(
    {
      method: { name: 'aft', kind: 'aft', kernel: 'linear', rho: 'sigmoid', priorSteps: 1 },
      beta: 10,
      seed: 0,
      downstream,
      train: trainSchema.parse({ steps, batch, eval_every: evalEvery }),
      numClasses: 10,
      trainData: { ...ds.train, inputShape: ds.inputShape },
      psiTrain: psi.train,
      psiWidth: psi.width,
      segments: [{ name: 'psi', offset: 0, width: psi.width }],
      evalData: { ...ds.test, inputShape: ds.inputShape },
      shared: new SharedMethodState(),
      dataKey: 'parity',
    },
    { onEval: (p) => evals.push(p) },
  );
  try {
    return { evals, weights: await modelWeights(r.model), rho: r.rho! };
  } finally {
    r.model.dispose();
    r.method.dispose();
  }
}

function assertSame(got: Trace, want: Trace, rows: number, testRows: number): void {
  assert.equal(got.evals.length, want.evals.length);
  want.evals.forEach((w, i) => {
    const g = got.evals[i];
    for (const k of ['ce', 'reg', 'loss'] as const) {
      const rel = Math.abs(g[k] - w[k]) / Math.abs(w[k]);
      assert.ok(rel <= 1e-5, `step ${w.step} ${k}: webgpu ${g[k]}, wasm ${w[k]} (relative ${rel.toExponential(2)})`);
    }
    assert.ok(
      Math.abs(g.trainAccuracy - w.trainAccuracy) <= 1 / rows + 1e-12,
      `step ${w.step} train accuracy: webgpu ${g.trainAccuracy}, wasm ${w.trainAccuracy}`,
    );
    assert.ok(
      Math.abs(g.evalAccuracy - w.evalAccuracy) <= 1 / testRows + 1e-12,
      `step ${w.step} eval accuracy: webgpu ${g.evalAccuracy}, wasm ${w.evalAccuracy}`,
    );
  });
  let rho = 0;
  want.rho.forEach((v, i) => (rho = Math.max(rho, Math.abs(v - got.rho[i]))));
  assert.ok(rho <= 1e-6, `ρ differs by ${rho.toExponential(2)}`);
  for (const [name, w] of Object.entries(want.weights)) {
    const g = got.weights[name];
    assert.deepEqual(g.shape, w.shape);
    let scale = 0;
    let diff = 0;
    w.data.forEach((v, i) => {
      scale = Math.max(scale, Math.abs(v));
      diff = Math.max(diff, Math.abs(v - g.data[i]));
    });
    assert.ok(
      diff <= 1e-4 * scale,
      `${name}: max |Δ| ${diff.toExponential(2)} is ${(diff / scale).toExponential(2)} of max |w| ${scale.toExponential(2)}`,
    );
  }
}

describe('training on webgpu equals training on wasm', { skip: skipUnlessWebgpu }, () => {
  it('the demo MLP (128, 64) with AFT: 20 steps at batch 128', async () => {
    const spec = downstreamSchema.parse({ model: 'mlp', hidden: [128, 64] });
    const want = await train('wasm', spec, 512, 128, 128, 20, 5);
    const got = await train('webgpu', spec, 512, 128, 128, 20, 5);
    assert.equal(want.evals.length, 4);
    assertSame(got, want, 512, 128);
  });

  it('a small CNN (16, 32 channels; 64) with AFT: 12 steps at batch 32', async () => {
    // Smaller than the MLP's run: lavapipe's convolutions take ~0.3 s a step at batch 32.
    const spec = downstreamSchema.parse({ model: 'cnn', channels: [16, 32], hidden: [64] });
    const want = await train('wasm', spec, 96, 32, 32, 12, 4);
    const got = await train('webgpu', spec, 96, 32, 32, 12, 4);
    assert.equal(want.evals.length, 3);
    assertSame(got, want, 96, 32);
  });
});

const hf = path.join(__dirname, '..', 'fixtures', 'hf');

/** Feeds for the committed fixtures: 3 images of 3×16×16 (tiny-vit); 2 texts of 7 tokens, one padded (tiny-bert). */
function fixtureFeeds(name: 'tiny-vit' | 'tiny-bert'): Record<string, OnnxTensor> {
  const rng = new Rng(11);
  if (name === 'tiny-vit')
    return {
      pixel_values: {
        type: 'float32',
        data: Float32Array.from({ length: 3 * 3 * 16 * 16 }, () => rng.normal()),
        dims: [3, 3, 16, 16],
      },
    };
  const ids = BigInt64Array.from([2, 10, 11, 15, 19, 3, 0, 2, 12, 16, 26, 8, 31, 3], (v) => BigInt(v));
  const mask = BigInt64Array.from([1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1], (v) => BigInt(v));
  return {
    input_ids: { type: 'int64', data: ids, dims: [2, 7] },
    attention_mask: { type: 'int64', data: mask, dims: [2, 7] },
  };
}

const opens: [string, (file: string, device: 'cpu' | 'webgpu') => Promise<OnnxRunner>][] = [
  ['in this thread', (file, device) => OnnxSession.open(file, { device })],
  ['in a worker thread', (file, device) => ThreadedOnnxSession.open(file, { device })],
];

describe('extraction on onnxruntime WebGPU equals the CPU', { skip: skipUnlessWebgpu }, () => {
  for (const name of ['tiny-vit', 'tiny-bert'] as const) {
    for (const [where, open] of opens) {
      it(`${name}, ${where}: every output within 1e-5`, async () => {
        const file = path.join(hf, name, 'onnx', 'model.onnx');
        const cpu = await open(file, 'cpu');
        const gpu = await open(file, 'webgpu');
        try {
          assert.equal(gpu.provider, 'webgpu');
          const want = await cpu.run(fixtureFeeds(name));
          const got = await gpu.run(fixtureFeeds(name));
          assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
          for (const [k, w] of Object.entries(want)) {
            assert.deepEqual(got[k].dims, w.dims);
            let diff = 0;
            (w.data as Float32Array).forEach(
              (v, i) => (diff = Math.max(diff, Math.abs(v - (got[k].data as Float32Array)[i]))),
            );
            assert.ok(diff <= 1e-5, `${k}: max |Δ| ${diff.toExponential(2)}`);
          }
        } finally {
          await gpu.release();
          await cpu.release();
        }
      });
    }
  }
});
