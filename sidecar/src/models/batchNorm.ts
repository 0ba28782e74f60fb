/**
 * BatchNorm2d with PyTorch's semantics on NHWC tensors. Training: each channel is normalised by
 * its batch mean and biased variance, and the running averages move by momentum 0.1 towards the
 * batch mean and the UNBIASED variance (n/(n−1)); evaluation (and `frozen`): the running
 * statistics. The gradients are written by hand and every per-channel sum is a pooling and a
 * product (`channelSum`): tfjs reduces over leading axes by transposing first, ~6x slower on
 * wasm (measured at 32x16x16x64). On the wasm backend the statistics, the normalisation, the
 * gradients and the running averages are one fused kernel each (runtime/fusedKernels.ts).
 */
import { badInput } from '../../../core/common/util/errors';
import { BN_APPLY, BN_GRAD, BN_GRAD_SUMS, BN_RUNNING, BN_STATS, fusedBatchNormReady } from '../runtime/fusedKernels';
import { CHANNEL_SUM, onnxruntimeKernels } from '../runtime/ortKernels';
import { tf, type Tensor, type Tensor1D, type Tensor4D, type Variable } from '../runtime/tf';

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** One BatchNorm2d: affine parameters (trained) and running statistics (buffers). */
export interface BatchNorm {
  weight: Variable;
  bias: Variable;
  runningMean: Variable;
  runningVar: Variable;
  /** A scalar, stored as int64 in state dicts. */
  numBatchesTracked: Variable;
}

/**
 * Σ over N, H, W of an NHWC tensor: [C], as a global average pool per example (one pass, an
 * XNNPACK operator) times H·W, then a product with a row of ones over the batch. A product with
 * ones over all N·H·W rows packs the whole tensor as its weights on every call: 12 ms for
 * 32x32x32x64, where the pool takes under 1 ms.
 */
export function channelSum(x: Tensor4D): Tensor1D {
  // On the wasm backend with its products on onnxruntime: one ReduceSum (ortKernels.ts).
  if (onnxruntimeKernels(tf)) return tf.engine().runKernel<Tensor1D>(CHANNEL_SUM, { x }, {});
  const [n, h, w, c] = x.shape;
  const perExample =
    h * w === 1 ? tf.reshape(x, [n, c]) : tf.mul(tf.reshape(tf.avgPool(x, [h, w], 1, 'valid'), [n, c]), h * w);
  return tf.reshape(tf.matMul(tf.ones([1, n]), perExample), [c]);
}

interface BatchStats {
  mean: Tensor;
  variance: Tensor;
}

/**
 * y = (x − μ_B)/√(σ²_B + ε)·γ + β with the batch's statistics. Backward (xc = x − μ, a = γ/√(σ²+ε)):
 * dβ = Σdy, dγ = Σ(dy·xc)/√(σ²+ε), dx = a·(dy − dβ/M − xc·dγ/(√(σ²+ε)·M)).
 * The batch statistics are handed to `onStats` (kept; the caller disposes them).
 */
function makeTrainNorm(onStats: (s: BatchStats) => void) {
  return tf.customGrad<Tensor4D>((...args: unknown[]) => {
    const [x, gamma, beta, save] = args as [Tensor4D, Tensor1D, Tensor1D, (ts: Tensor[]) => void];
    const [n, h, w, c] = x.shape;
    const m = n * h * w;
    if (fusedBatchNormReady(tf, c)) {
      // Fused (runtime/fusedKernels.ts): the statistics, the normalisation and the gradients are
      // three kernels, and xc = x − μ is never made.
      const [mean, variance, invStd, a] = tf.engine().runKernel<Tensor1D[]>(BN_STATS, { x, gamma }, { eps: BN_EPS });
      onStats({ mean: tf.keep(mean), variance: tf.keep(variance) });
      save([x, mean, invStd, gamma]);
      return {
        value: tf.engine().runKernel<Tensor4D>(BN_APPLY, { x, mean, a, beta }, {}),
        gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
          const [xs, mu, inv, gam] = saved;
          return tf
            .engine()
            .runKernel<Tensor[]>(BN_GRAD, { dy: dy as Tensor, x: xs, mean: mu, invStd: inv, gamma: gam }, {});
        },
      };
    }
    const mean = tf.div(channelSum(x), m);
    const xc = tf.sub<Tensor4D>(x, mean);
    const variance = tf.div(channelSum(tf.square(xc)), m);
    const invStd = tf.rsqrt(tf.add(variance, BN_EPS));
    onStats({ mean: tf.keep(mean), variance: tf.keep(variance) });
    save([xc, invStd, gamma]);
    return {
      value: tf.add<Tensor4D>(tf.mul(xc, tf.mul(invStd, gamma)), beta),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.tidy(() => {
          const g = dy as Tensor4D;
          const [xcs, inv, gam] = saved as [Tensor4D, Tensor1D, Tensor1D];
          const dBeta = channelSum(g);
          const dGammaRaw = channelSum(tf.mul<Tensor4D>(g, xcs));
          const ga = tf.mul(gam, inv);
          // dx = dy·a + xc·b + c
          const b = tf.mul(tf.neg(ga), tf.div(tf.mul(dGammaRaw, tf.square(inv)), m));
          const k = tf.mul(tf.neg(ga), tf.div(dBeta, m));
          const dx = tf.add(tf.add(tf.mul(g, ga), tf.mul(xcs, b)), k);
          return [dx, tf.mul(dGammaRaw, inv), dBeta];
        }),
    };
  }) as (x: Tensor4D, gamma: Tensor, beta: Tensor) => Tensor4D;
}

/**
 * y = x·scale + shift per channel, with the sums of its gradient as products (or, fused, as
 * BatchNorm's kernels with a mean of zeros: x − 0 is x, so the results are the same).
 */
const affine = tf.customGrad<Tensor4D>((...args: unknown[]) => {
  const [x, scale, shift, save] = args as [Tensor4D, Tensor1D, Tensor1D, (ts: Tensor[]) => void];
  const fused = fusedBatchNormReady(tf, x.shape[3]);
  save([x, scale]);
  return {
    value: fused
      ? tf.engine().runKernel<Tensor4D>(BN_APPLY, { x, mean: tf.zerosLike(scale), a: scale, beta: shift }, {})
      : tf.add<Tensor4D>(tf.mul(x, scale), shift),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
      tf.tidy(() => {
        const g = dy as Tensor4D;
        const [xs, sc] = saved as [Tensor4D, Tensor1D];
        if (!fused) return [tf.mul(g, sc), channelSum(tf.mul<Tensor4D>(g, xs)), channelSum(g)];
        const [dShift, dScale] = tf
          .engine()
          .runKernel<Tensor1D[]>(BN_GRAD_SUMS, { dy: g, x: xs, mean: tf.zerosLike(sc) }, {});
        return [tf.mul(g, sc), dScale, dShift];
      }),
  };
}) as (x: Tensor4D, scale: Tensor, shift: Tensor) => Tensor4D;

let lastStats: BatchStats | undefined;
const trainNorm = makeTrainNorm((s) => {
  lastStats = s;
});

/**
 * BatchNorm2d forward. `train`: batch statistics, and the running statistics are updated (as
 * PyTorch does in `model.train()`); otherwise the running statistics are used and nothing
 * changes (`model.eval()`, or BatchNorm frozen for training with small batches).
 */
export function batchNorm(x: Tensor4D, bn: BatchNorm, train: boolean): Tensor4D {
  if (!train) {
    const scale = tf.mul(bn.weight, tf.rsqrt(tf.add(bn.runningVar, BN_EPS)));
    return affine(x, scale, tf.sub(bn.bias, tf.mul(bn.runningMean, scale)));
  }
  const [n, h, w] = x.shape;
  const m = n * h * w;
  if (m < 2) {
    throw badInput(
      `BatchNorm in training needs more than one value per channel, but a batch gave it [${x.shape.join(', ')}]; use a larger batch or input, or \`batchnorm: frozen\``,
      { file: '<experiment>', field: 'downstream.batchnorm' },
    );
  }
  const y = trainNorm(x, bn.weight, bn.bias);
  const stats = lastStats!;
  lastStats = undefined;
  tf.tidy(() => {
    const keep = 1 - BN_MOMENTUM;
    const varRate = (BN_MOMENTUM * m) / (m - 1);
    if (fusedBatchNormReady(tf, x.shape[3])) {
      const [runningMean, runningVar] = tf
        .engine()
        .runKernel<Tensor1D[]>(
          BN_RUNNING,
          { runningMean: bn.runningMean, runningVar: bn.runningVar, mean: stats.mean, variance: stats.variance },
          { keep, meanRate: BN_MOMENTUM, varRate },
        );
      bn.runningMean.assign(runningMean);
      bn.runningVar.assign(runningVar);
    } else {
      bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, keep), tf.mul(stats.mean, BN_MOMENTUM)));
      bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, keep), tf.mul(stats.variance, varRate)));
    }
    bn.numBatchesTracked.assign(tf.add(bn.numBatchesTracked, 1));
  });
  stats.mean.dispose();
  stats.variance.dispose();
  return y;
}
