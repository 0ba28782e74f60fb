/**
 * The "paraphraser" of factor transfer (Kim et al., NeurIPS 2018) on one source's pre-trained
 * features, as the AFT reference code builds it (train_ae.py): an encoder d → d → d/2 → d/2 and
 * a decoder d/2 → d/2 → d → d, ReLU after every layer but the decoder's last (so the code, the
 * factors, is ReLU'd too), trained with MSE on the raw features and Adam. Its codes are the
 * factors the student's translator imitates. One is trained per source (factorTransfer.ts).
 *
 * Deliberate deviation from the reference: it stops early on the validation loss of a held-out
 * slice of the TRAINING rows (by seed) and keeps the weights of the best epoch; the reference
 * stops on the test features, which would let the test set shape what the student is taught.
 */
import { tf, type Scalar, type Tensor, type Tensor2D } from '../runtime/tf';
import { AftError, badInput, CancelledError } from '../../../core/common/util/errors';
import { Rng, seedFor } from '../util/rng';
import { EarlyStopping } from './earlyStopping';
import { applyMlp, createMlp, freezeMlp, mlpVariables } from './mlp';

export interface AutoencoderOptions {
  seed: number;
  learningRate?: number;
  batchSize?: number;
  maxEpochs?: number;
  /** Epochs without a better validation loss before stopping. */
  patience?: number;
  /** Share of the training rows held out for early stopping. */
  valFraction?: number;
  signal?: AbortSignal;
  onEpoch?(p: { epoch: number; trainLoss: number; valLoss: number }): void;
}

export interface FactorAutoencoder {
  inputDim: number;
  factorDim: number;
  /** Factors (B×factorDim) of pre-trained features (B×inputDim); constants, no gradient. */
  encode(psi: Tensor2D): Tensor2D;
  /** Factors of many rows at once, computed in batches. */
  factorsOf(features: Float32Array, rows: number): Promise<Float32Array>;
  /** Mean squared reconstruction error of rows, as training measures it. */
  reconstructionError(features: Float32Array, rows: number): Promise<number>;
  /** Training rows held out for early stopping. */
  validationRows: Int32Array;
  history: { trainLoss: number[]; valLoss: number[] };
  /** Epoch (0-based) whose weights were kept. */
  bestEpoch: number;
  stoppedEarly: boolean;
  dispose(): void;
}

const EVAL_BATCH = 1024;

function rowsOf(features: Float32Array, dim: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(features.subarray(rows[i] * dim, (rows[i] + 1) * dim), i * dim);
  return out;
}

/** Runs `f` over row batches of `x` and concatenates the results. */
async function inBatches(
  x: Float32Array,
  rows: number,
  dim: number,
  f: (b: Tensor2D) => Tensor2D,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r += EVAL_BATCH) {
    const n = Math.min(EVAL_BATCH, rows - r);
    // Read back outside tidy (tidy walks every element of an array it returns), and
    // asynchronously (the webgpu backend cannot read synchronously in Node).
    const y = tf.tidy(() => f(tf.tensor2d(x.subarray(r * dim, (r + n) * dim), [n, dim])));
    out.push((await y.data()) as Float32Array);
    y.dispose();
  }
  return out;
}

/** The value of a scalar tensor, which is then disposed. */
async function readScalar(t: Scalar): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/** Trains the autoencoder on `features` (row-major rows×dim training features). */
export async function trainFactorAutoencoder(
  features: Float32Array,
  rows: number,
  dim: number,
  opts: AutoencoderOptions,
): Promise<FactorAutoencoder> {
  if (features.length !== rows * dim)
    throw badInput(`factor transfer: expected ${rows}×${dim} feature values, got ${features.length}`);
  if (dim < 2)
    throw badInput(
      `factor transfer needs pre-trained features at least 2 wide (the factors are half as wide), got ${dim}`,
    );
  const valFraction = opts.valFraction ?? 0.1;
  const nVal = Math.max(1, Math.round(rows * valFraction));
  if (rows - nVal < 1)
    throw badInput(`factor transfer: ${rows} training rows are too few to hold out a validation split`);
  const rng = new Rng(seedFor(opts.seed, 'factor-autoencoder'));
  const perm = rng.permutation(rows);
  const validationRows = perm.slice(0, nVal);
  const fitRows = perm.slice(nVal);
  const factorDim = Math.floor(dim / 2);
  const enc = createMlp(rng, [dim, dim, factorDim, factorDim], 'ft.enc');
  const dec = createMlp(rng, [factorDim, factorDim, dim, dim], 'ft.dec');
  const vars = [...mlpVariables(enc), ...mlpVariables(dec)];
  const fit = tf.tensor2d(rowsOf(features, dim, fitRows), [fitRows.length, dim]);
  const val = tf.tensor2d(rowsOf(features, dim, validationRows), [nVal, dim]);
  const mse = (x: Tensor2D): Scalar => tf.mean(tf.square(tf.sub(applyMlp(dec, encodeWith(enc, x)), x)));

  const optimizer = tf.train.adam(opts.learningRate ?? 1e-3);
  const batch = opts.batchSize ?? 128;
  const stopper = new EarlyStopping(opts.patience ?? 5);
  const history = { trainLoss: [] as number[], valLoss: [] as number[] };
  let best = { enc: freezeMlp(enc), dec: freezeMlp(dec) };
  const maxEpochs = opts.maxEpochs ?? 100;
  try {
    for (let epoch = 0; epoch < maxEpochs && !stopper.shouldStop; epoch++) {
      const order = rng.permutation(fitRows.length);
      let sum = tf.scalar(0);
      for (let s = 0; s < order.length; s += batch) {
        if (opts.signal?.aborted) throw new CancelledError();
        const idx = tf.tensor1d(order.subarray(s, Math.min(s + batch, order.length)), 'int32');
        const cost = optimizer.minimize(() => mse(tf.gather(fit, idx)), true, vars)!;
        const next = tf.add<Scalar>(sum, tf.mul(cost, idx.shape[0]));
        tf.dispose([idx, cost, sum]);
        sum = next;
      }
      const trainLoss = (await readScalar(sum)) / fitRows.length;
      const valLoss = await readScalar(tf.tidy(() => mse(val)));
      if (!Number.isFinite(trainLoss) || !Number.isFinite(valLoss)) {
        throw new AftError(
          'run_failed',
          `factor transfer: the autoencoder diverged at epoch ${epoch} (loss ${trainLoss}); try a lower learning rate`,
        );
      }
      history.trainLoss.push(trainLoss);
      history.valLoss.push(valLoss);
      opts.onEpoch?.({ epoch, trainLoss, valLoss });
      if (stopper.update(epoch, valLoss)) {
        tf.dispose([...best.enc, ...best.dec].flatMap((l) => [l.w, l.b]));
        best = { enc: freezeMlp(enc), dec: freezeMlp(dec) };
      }
    }
  } catch (e) {
    tf.dispose([...best.enc, ...best.dec].flatMap((l) => [l.w, l.b]));
    throw e;
  } finally {
    optimizer.dispose();
    tf.dispose([...vars, fit, val]);
  }

  const { enc: frozenEnc, dec: frozenDec } = best;
  const encode = (psi: Tensor2D): Tensor2D => {
    if (psi.shape[1] !== dim)
      throw badInput(`factor transfer: the autoencoder takes ${dim}-wide features, got ${psi.shape[1]}`);
    return encodeWith(frozenEnc, psi);
  };
  return {
    inputDim: dim,
    factorDim,
    encode,
    factorsOf: async (x, n) => {
      const out = new Float32Array(n * factorDim);
      let at = 0;
      for (const part of await inBatches(x, n, dim, encode)) {
        out.set(part, at);
        at += part.length;
      }
      return out;
    },
    reconstructionError: async (x, n) => {
      const errs = await inBatches(x, n, dim, (b) =>
        tf.reshape(tf.sum(tf.square(tf.sub(applyMlp(frozenDec, encodeWith(frozenEnc, b)), b))), [1, 1]),
      );
      return errs.reduce((s, e) => s + e[0], 0) / (n * dim);
    },
    validationRows,
    history,
    bestEpoch: stopper.bestEpoch,
    stoppedEarly: stopper.shouldStop,
    dispose: () => tf.dispose([...frozenEnc, ...frozenDec].flatMap((l) => [l.w, l.b])),
  };
}

/** The encoder's forward pass, ReLU'd code included (the reference's encoder ends in a ReLU). */
export function encodeWith(layers: readonly { w: Tensor; b: Tensor }[], x: Tensor2D): Tensor2D {
  return applyMlp(layers, x, true);
}
