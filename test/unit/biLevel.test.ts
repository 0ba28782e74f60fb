/**
 * Bi-level AFT (`prior_steps` k): of every k batches the first updates the student and ρ, the
 * others ρ alone. Watched step by step through the parameters themselves (every trainable
 * variable alive during the job: the student's θ and AFT's s, whose sigmoid is ρ), on real
 * MNIST digits and noise features: θ must stay bit for bit the same on a ρ-only step while ρ
 * moves, and k = 1 must update θ on every step.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { downstreamSchema, trainSchema } from '../../core/node/experiment/schema';
import { loadMnist } from '../../sidecar/src/data/mnist';
import { noiseFeatures } from '../../sidecar/src/features/noise';
import { SharedMethodState } from '../../sidecar/src/methods/method';
import { initBackend, tf } from '../../sidecar/src/runtime/tf';
import { trainJob } from '../../sidecar/src/train/job';

/** Values of the trainable variables alive now, split into AFT's s and everything else (θ). */
function snapshot(): { theta: Map<string, Float32Array>; s: Float32Array } {
  const theta = new Map<string, Float32Array>();
  let s: Float32Array | undefined;
  for (const [name, v] of Object.entries(tf.engine().registeredVariables)) {
    if (!v.trainable) continue; // the optimiser's moments
    // A test may read synchronously (the cpu backend can); the engine never does.
    const values = v.dataSync() as Float32Array;
    if (name.startsWith('aft.s_')) s = values.slice();
    else theta.set(name, values.slice());
  }
  assert.ok(s, 'no AFT weights found among the variables');
  return { theta, s };
}

const same = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** θ and s after each of `steps` steps of an AFT job with `prior_steps` k. */
async function trace(k: number, steps: number): Promise<ReturnType<typeof snapshot>[]> {
  const ds = loadMnist(64, 32, 0);
  const psi = noiseFeatures('psi', 32, ds.train.n, 0, 0);
  const out: ReturnType<typeof snapshot>[] = [];
  const r = await trainJob(
    {
      method: { name: 'aft-bilevel', kind: 'aft', kernel: 'linear', rho: 'sigmoid', priorSteps: k },
      beta: 10,
      seed: 0,
      downstream: downstreamSchema.parse({ hidden: [16, 8] }),
      train: trainSchema.parse({ steps, batch: 16, eval_every: 1000, schedule: 'constant' }),
      numClasses: 10,
      trainData: { ...ds.train, inputShape: ds.inputShape },
      psiTrain: psi.train,
      psiWidth: psi.width,
      segments: [{ name: 'psi', offset: 0, width: psi.width }],
      evalData: { ...ds.test, inputShape: ds.inputShape },
      shared: new SharedMethodState(),
      dataKey: 'bilevel',
    },
    { onStep: () => out.push(snapshot()) },
  );
  r.model.dispose();
  r.method.dispose();
  return out;
}

describe('bi-level AFT (prior_steps)', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('k = 3: θ moves only on the first step of every 3, ρ moves on every step', async () => {
    // 64 rows at batch 16: one epoch is 4 steps, so 8 steps are joint at 0, 3, 4 and 7 (0-based;
    // the cycle restarts with each epoch, as the reference's does).
    const steps = await trace(3, 8);
    assert.equal(steps.length, 8);
    const joint = new Set([0, 3, 4, 7]);
    for (let i = 1; i < steps.length; i++) {
      const before = steps[i - 1];
      const after = steps[i];
      const thetaSame = [...after.theta].every(([n, v]) => same(v, before.theta.get(n)!));
      assert.equal(thetaSame, !joint.has(i), `step ${i}: θ ${thetaSame ? 'unchanged' : 'changed'}`);
      assert.ok(!same(after.s, before.s), `step ${i}: ρ did not move`);
    }
  });

  it('k = 1 (plain AFT) updates θ on every step', async () => {
    const steps = await trace(1, 4);
    for (let i = 1; i < steps.length; i++)
      assert.ok(
        [...steps[i].theta].some(([n, v]) => !same(v, steps[i - 1].theta.get(n)!)),
        `step ${i}: θ did not change`,
      );
  });
});
