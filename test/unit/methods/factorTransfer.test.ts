/** Factor transfer: the autoencoder's training and early stopping, the translator and the loss. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { EarlyStopping } from '../../../sidecar/src/methods/earlyStopping';
import { trainFactorAutoencoder } from '../../../sidecar/src/methods/factorAutoencoder';
import { createFactorTransfer, factorTransferLoss, NORM_EPS } from '../../../sidecar/src/methods/factorTransfer';
import type { MethodSetup } from '../../../sidecar/src/methods/method';
import { initBackend, tf, type Tensor2D } from '../../../sidecar/src/runtime/tf';
import { AftError } from '../../../core/common/util/errors';
import { Rng } from '../../../sidecar/src/util/rng';
import { testSetup } from '../../helpers/methodSetup';

/** Rows on a random 3-dimensional subspace of R^dim plus a little noise, offset and scaled. */
function lowRank(seed: number, rows: number, dim: number): Float32Array {
  const rng = new Rng(seed);
  const basis = Array.from({ length: 3 * dim }, () => rng.normal());
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const z = [rng.normal(), rng.normal(), rng.normal()];
    for (let a = 0; a < dim; a++)
      out[i * dim + a] =
        5 + 3 * (z[0] * basis[a] + z[1] * basis[dim + a] + z[2] * basis[2 * dim + a]) + 0.05 * rng.normal();
  }
  return out;
}

function noise(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

const setup = (featureDim: number, psiDim: number): MethodSetup => testSetup('ft', featureDim, psiDim, new Rng(5));

describe('factor transfer loss', () => {
  before(async () => {
    await initBackend('cpu');
  });

  const cases = [
    { name: 'same direction, different length', pred: [[2, 0, 0]], factor: [[5, 0, 0]], want: 0 },
    { name: 'opposite directions', pred: [[-1, 0]], factor: [[3, 0]], want: 2 },
    { name: 'orthogonal', pred: [[0, 1]], factor: [[1, 0]], want: 2 },
    {
      name: 'mean over rows',
      pred: [
        [1, 0],
        [0, 1],
      ],
      factor: [
        [1, 0],
        [1, 0],
      ],
      want: 1,
    },
    { name: 'zero prediction', pred: [[0, 0]], factor: [[3, 4]], want: 1.4 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = tf.tidy(() => factorTransferLoss(tf.tensor2d(c.pred), tf.tensor2d(c.factor)).dataSync()[0]);
      assert.ok(Math.abs(got - c.want) < 1e-5, `${got} vs ${c.want}`);
    });
  }
});

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without a relative improvement and remembers the best', () => {
    const s = new EarlyStopping(2, 0.01);
    const kept = [5, 4, 3.99, 3.5, 3.6, 3.49].map((l, e) => s.update(e, l));
    assert.deepEqual(kept, [true, true, false, true, false, false]);
    assert.equal(s.bestEpoch, 3);
    assert.equal(s.shouldStop, true);
  });

  it('never counts a NaN as an improvement', () => {
    const s = new EarlyStopping(1);
    assert.equal(s.update(0, NaN), false);
    assert.equal(s.shouldStop, true);
    assert.equal(s.bestEpoch, -1);
  });
});

describe('factor autoencoder', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('lowers its reconstruction loss and holds out a seeded tenth of the training rows', async () => {
    const x = lowRank(1, 200, 8);
    const ae = await trainFactorAutoencoder(x, 200, 8, { seed: 3, maxEpochs: 40, learningRate: 3e-3, batchSize: 32 });
    const { trainLoss, valLoss } = ae.history;
    assert.equal(ae.factorDim, 4);
    assert.ok(trainLoss.at(-1)! < 0.5 * trainLoss[0], `train loss ${trainLoss[0]} → ${trainLoss.at(-1)}`);
    assert.ok(Math.min(...valLoss) < 0.5 * valLoss[0], `validation loss ${valLoss[0]} → ${Math.min(...valLoss)}`);
    assert.equal(ae.validationRows.length, 20);
    assert.equal(new Set(ae.validationRows).size, 20);
    assert.ok(ae.validationRows.every((r) => r >= 0 && r < 200));
    const again = await trainFactorAutoencoder(x, 200, 8, { seed: 3, maxEpochs: 1 });
    assert.deepEqual(again.validationRows, ae.validationRows);
    const other = await trainFactorAutoencoder(x, 200, 8, { seed: 4, maxEpochs: 1 });
    assert.notDeepEqual(other.validationRows, ae.validationRows);
    const factors = await ae.factorsOf(x, 200);
    assert.equal(factors.length, 200 * 4);
    assert.ok(factors.every(Number.isFinite));
    [ae, again, other].forEach((a) => a.dispose());
  });

  it('stops on the validation loss and keeps the weights of its best epoch', async () => {
    // Pure noise with few rows: the network memorises the training rows and the held-out
    // reconstruction gets worse, which only the validation split can see.
    const rows = 40;
    const dim = 16;
    const x = noise(2, rows * dim);
    const epochs: { trainLoss: number; valLoss: number }[] = [];
    const ae = await trainFactorAutoencoder(x, rows, dim, {
      seed: 3,
      maxEpochs: 400,
      patience: 3,
      learningRate: 1e-2,
      batchSize: 8,
      valFraction: 0.25,
      onEpoch: (e) => epochs.push(e),
    });
    const { valLoss, trainLoss } = ae.history;
    assert.equal(ae.stoppedEarly, true, `ran all ${valLoss.length} epochs`);
    assert.equal(valLoss.length, ae.bestEpoch + 4, 'did not stop exactly `patience` epochs after the best');
    assert.equal(ae.bestEpoch, valLoss.indexOf(Math.min(...valLoss)));
    assert.ok(
      trainLoss.at(-1)! < trainLoss[ae.bestEpoch],
      'training loss was still falling when validation stopped it',
    );
    assert.deepEqual(
      epochs.map((e) => e.valLoss),
      valLoss,
    );
    const val = new Float32Array(ae.validationRows.length * dim);
    ae.validationRows.forEach((r, i) => val.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
    const kept = await ae.reconstructionError(val, ae.validationRows.length);
    assert.ok(
      Math.abs(kept - valLoss[ae.bestEpoch]) < 1e-4 * kept,
      `kept weights give ${kept}, best epoch had ${valLoss[ae.bestEpoch]}`,
    );
    assert.ok(
      Math.abs(kept - valLoss.at(-1)!) > 1e-3 * kept,
      'the last epoch is as good as the best one; the test proves nothing',
    );
    ae.dispose();
  });

  it('rejects inputs it cannot split or halve', async () => {
    const code = (e: unknown): boolean => e instanceof AftError && e.code === 'bad_input';
    await assert.rejects(trainFactorAutoencoder(new Float32Array(4), 1, 4, { seed: 0 }), code);
    await assert.rejects(trainFactorAutoencoder(new Float32Array(10), 10, 1, { seed: 0 }), code);
    await assert.rejects(trainFactorAutoencoder(new Float32Array(10), 3, 4, { seed: 0 }), code);
  });
});

describe('factor transfer method', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('starts with a zero translator: loss ‖n(factor)‖₁, no gradient into the student', async () => {
    const psiDim = 8;
    const x = lowRank(7, 100, psiDim);
    const ae = await trainFactorAutoencoder(x, 100, psiDim, { seed: 2, maxEpochs: 5 });
    const m = createFactorTransfer(setup(6, psiDim), [ae]);
    const [lastW, lastB] = m.modelParams.slice(-2);
    assert.ok(lastW.dataSync().every((v) => v === 0) && lastB.dataSync().every((v) => v === 0));
    const phi = tf.tensor2d(noise(8, 10 * 6), [10, 6]);
    const psi = tf.tensor2d(x.subarray(0, 10 * psiDim), [10, psiDim]);
    const want = tf.tidy(
      () => tf.mean(tf.sum(tf.abs(tf.div(ae.encode(psi), tf.norm(ae.encode(psi), 2, 1, true))), 1)).dataSync()[0],
    );
    const { value, grads } = tf.variableGrads(() => m.regularizer!(phi, psi), m.modelParams);
    assert.ok(Math.abs(value.dataSync()[0] - want) < 1e-3 * want, `${value.dataSync()[0]} vs ${want}`);
    const gPhi = tf.grad((p) => m.regularizer!(p as Tensor2D, psi))(phi);
    assert.ok(
      gPhi.dataSync().every((v) => v === 0),
      'the student gets a gradient before the translator has learnt anything',
    );
    const gLast = grads[lastW.name].dataSync();
    assert.ok(gLast.every(Number.isFinite) && gLast.some((v) => v !== 0), 'the translator cannot start learning');
    tf.dispose([phi, psi, value, gPhi, ...Object.values(grads)]);
    m.dispose();
    ae.dispose();
  });

  it('one autoencoder per source: the factors are the ReLU codes of each source, concatenated; the translator is d → d → F → F', async () => {
    const [wa, wb, rows, d] = [8, 6, 60, 5];
    const a = lowRank(11, rows, wa);
    const b = noise(12, rows * wb);
    const psi = new Float32Array(rows * (wa + wb));
    for (let i = 0; i < rows; i++) {
      psi.set(a.subarray(i * wa, (i + 1) * wa), i * (wa + wb));
      psi.set(b.subarray(i * wb, (i + 1) * wb), i * (wa + wb) + wa);
    }
    const aeA = await trainFactorAutoencoder(a, rows, wa, { seed: 0, maxEpochs: 3 });
    const aeB = await trainFactorAutoencoder(b, rows, wb, { seed: 0, maxEpochs: 3 });
    const s = testSetup('ft', d, wa + wb, new Rng(5));
    s.data.segments = [
      { name: 'a', offset: 0, width: wa },
      { name: 'b', offset: wa, width: wb },
    ];
    const m = createFactorTransfer(s, [aeA, aeB]);
    assert.deepEqual(
      m.modelParams.filter((_, i) => i % 2 === 0).map((w) => w.shape),
      [
        [d, d],
        [d, 4 + 3],
        [4 + 3, 4 + 3],
      ],
    );
    const factorsA = await aeA.factorsOf(a, rows);
    assert.ok(
      factorsA.every((v) => v >= 0),
      'the code is not ReLU’d',
    );
    // With the zero-initialised translator the loss is ‖n(factors)‖₁ of the concatenated codes.
    const phi = tf.tensor2d(noise(13, rows * d), [rows, d]);
    const psiT = tf.tensor2d(psi, [rows, wa + wb]);
    const want = tf.tidy(() => {
      const f = tf.concat([aeA.encode(tf.tensor2d(a, [rows, wa])), aeB.encode(tf.tensor2d(b, [rows, wb]))], 1);
      const norm = tf.sqrt(tf.add(tf.sum(tf.square(f), 1, true), NORM_EPS ** 2));
      return tf.mean(tf.sum(tf.abs(tf.div(f, norm)), 1)).dataSync()[0];
    });
    const got = tf.tidy(() => m.regularizer!(phi, psiT).dataSync()[0]);
    assert.ok(Math.abs(got - want) < 1e-4 * want, `${got} vs ${want}`);
    tf.dispose([phi, psiT]);
    [m, aeA, aeB].forEach((x) => x.dispose());
  });

  it('lowers its loss when the translator trains', async () => {
    const psiDim = 8;
    const x = lowRank(9, 100, psiDim);
    const ae = await trainFactorAutoencoder(x, 100, psiDim, { seed: 2, maxEpochs: 20 });
    const m = createFactorTransfer(setup(psiDim, psiDim), [ae]);
    // The student's features are the pre-trained ones, so a translator can match the factors.
    const phi = tf.tensor2d(x.subarray(0, 64 * psiDim), [64, psiDim]);
    const phiStd = tf.tidy(() => tf.div<Tensor2D>(tf.sub(phi, tf.mean(phi, 0)), 3));
    const opt = tf.train.adam(1e-2);
    const losses: number[] = [];
    for (let step = 0; step < 150; step++) {
      const cost = opt.minimize(() => m.regularizer!(phiStd, phi), true, m.modelParams)!;
      losses.push(cost.dataSync()[0]);
      cost.dispose();
    }
    assert.ok(losses.at(-1)! < 0.5 * losses[0], `loss ${losses[0]} → ${losses.at(-1)}`);
    opt.dispose();
    tf.dispose([phi, phiStd]);
    m.dispose();
    ae.dispose();
  });

  it('rejects ψ of a width the autoencoder was not trained on', async () => {
    const ae = await trainFactorAutoencoder(lowRank(1, 20, 4), 20, 4, { seed: 0, maxEpochs: 1 });
    assert.throws(
      () => createFactorTransfer(setup(3, 6), [ae]),
      /autoencoder of psi was trained on 4-wide features but the source is 6 wide/,
    );
    assert.throws(() => createFactorTransfer(setup(3, 4), [ae, ae]), /2 autoencoders for 1 sources/);
    ae.dispose();
  });
});
