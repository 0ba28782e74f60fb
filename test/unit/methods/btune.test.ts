/** B-Tuning: the source mixture, the folded projection and the loss against plain loops. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  btuneLoss,
  btuneTarget,
  createBTune,
  mixedProjection,
  sourceMixture,
  type BTuneState,
} from '../../../sidecar/src/methods/btune';
import { initBackend, tf, type Tensor2D } from '../../../sidecar/src/runtime/tf';
import { AftError } from '../../../core/common/util/errors';
import { Rng } from '../../../sidecar/src/util/rng';
import { testSetup } from '../../helpers/methodSetup';

const rng = new Rng(17);
const randn = (n: number): number[] => Array.from({ length: n }, () => rng.normal());

const B = 5;
const K = 3;
const d = 4;
const dims = [2, 3];
const state: BTuneState = {
  scores: [0.31, 0.27],
  featureDims: dims,
  sourceWeights: dims.map((di) => randn(K * di)),
  studentWeights: randn(K * d),
  numClasses: K,
};
const phi = randn(B * d);
const psi = randn(B * 5);

/** The loss and its gradient in φ, written as loops in float64 straight from the definition. */
function byHand(): { loss: number; grad: number[] } {
  const pi = [Math.exp(state.scores[0] / 0.1), Math.exp(state.scores[1] / 0.1)];
  const z = pi[0] + pi[1];
  const diff: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      let target = 0;
      let col = 0;
      dims.forEach((di, i) => {
        for (let a = 0; a < di; a++) target += (pi[i] / z) * psi[b * 5 + col + a] * state.sourceWeights[i][k * di + a];
        col += di;
      });
      let pred = 0;
      for (let a = 0; a < d; a++) pred += phi[b * d + a] * state.studentWeights[k * d + a];
      diff.push(pred - target);
    }
  }
  const loss = diff.reduce((s, v) => s + v * v, 0) / (B * K);
  const grad: number[] = [];
  for (let b = 0; b < B; b++)
    for (let a = 0; a < d; a++)
      grad.push(
        [...Array(K).keys()].reduce((s, k) => s + (2 / (B * K)) * diff[b * K + k] * state.studentWeights[k * d + a], 0),
      );
  return { loss, grad };
}

describe('btune', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('mixes sources by a temperature-0.1 softmax of their scores, without overflow', () => {
    const pi = sourceMixture([0.2, 0.1]);
    assert.ok(Math.abs(pi[0] - 1 / (1 + Math.exp(-1))) < 1e-15);
    assert.ok(Math.abs(pi[0] + pi[1] - 1) < 1e-15);
    assert.deepEqual(
      sourceMixture([1000, 1000 - 0.1 * Math.log(3)], 0.1).map((v) => Math.round(v * 1e12) / 1e12),
      [0.75, 0.25],
    );
  });

  it('matches the definition in value and gradient', () => {
    const want = byHand();
    const { matrix, psiDim } = mixedProjection(state);
    const got = tf.tidy(() => {
      const target = btuneTarget(tf.tensor2d(psi, [B, psiDim]), tf.tensor2d(matrix, [psiDim, K]));
      const wd = tf.tensor2d(state.studentWeights as number[], [K, d]);
      const { value, grad } = tf.valueAndGrad((p: Tensor2D) => btuneLoss(p, wd, target))(tf.tensor2d(phi, [B, d]));
      return { loss: value.dataSync()[0], grad: Array.from(grad.dataSync()) };
    });
    assert.ok(Math.abs(got.loss - want.loss) < 1e-5 * want.loss, `${got.loss} vs ${want.loss}`);
    got.grad.forEach((g, i) => assert.ok(Math.abs(g - want.grad[i]) < 1e-5, `grad ${i}: ${g} vs ${want.grad[i]}`));
  });

  it('is a TransferMethod with no parameters whose regulariser is the loss', () => {
    const m = createBTune(testSetup('btune', d, 5, rng), state);
    assert.deepEqual([m.modelParams.length, m.priorParams.length, m.usesPretrained], [0, 0, true]);
    const r = tf.tidy(() => m.regularizer!(tf.tensor2d(phi, [B, d]), tf.tensor2d(psi, [B, 5])).dataSync()[0]);
    assert.ok(Math.abs(r - byHand().loss) < 1e-5 * r);
    m.dispose();
  });

  const bad: { name: string; run: () => unknown; message: RegExp }[] = [
    { name: 'a non-positive temperature', run: () => sourceMixture([1], 0), message: /temperature must be positive/ },
    { name: 'a NaN score', run: () => sourceMixture([1, NaN]), message: /score of source 1 is NaN/ },
    {
      name: 'widths that do not add up to ψ',
      run: () => mixedProjection(state, 6),
      message: /sum to 5, but ψ has 6 columns/,
    },
    {
      name: 'a weight matrix of the wrong size',
      run: () => mixedProjection({ ...state, sourceWeights: [randn(6), randn(8)] }),
      message: /source 1's LogME weights have 8 values, expected 3×3/,
    },
    {
      name: 'one score too many',
      run: () => mixedProjection({ ...state, scores: [1, 2, 3] }),
      message: /3 LogME scores, 2 feature widths/,
    },
    {
      name: "student weights that do not match φ's width",
      run: () => createBTune(testSetup('btune', d + 1, 5, rng), state),
      message: /student's LogME weights have 12 values, expected 3×5/,
    },
  ];
  for (const b of bad) {
    it(`rejects ${b.name}`, () => {
      assert.throws(
        b.run,
        (e: unknown) => e instanceof AftError && e.code === 'bad_input' && b.message.test(e.message),
      );
    });
  }
});
