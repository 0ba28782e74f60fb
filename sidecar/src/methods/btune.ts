/**
 * B-Tuning (You et al., "Ranking and Tuning Pre-trained Models", JMLR 2022): the student is
 * pulled towards the LogME posterior predictions of the pre-trained sources, mixed by how well
 * each source's features explain the labels,
 *
 *   π = softmax(score / T),  target = Σ_i π_i ψ_i W_iᵀ,  R(φ) = mean((φ W_dᵀ − target)²),
 *
 * where W_i (K×D_i) are source i's LogME weights, ψ_i its slice of the concatenated pre-trained
 * features and W_d (K×d) the student's LogME weights. Everything except φ is fixed, so the
 * sources' weights are folded once into a single D×K matrix and the target costs one product.
 */
import { tf, type Scalar, type Tensor2D } from '../runtime/tf';
import { matMulT } from '../models/layers';
import { badInput, type AftError } from '../../../core/common/util/errors';
import type { MethodSetup, TransferMethod } from './method';

/** The paper's temperature for the source mixture. */
export const BTUNE_TEMPERATURE = 0.1;

export interface BTuneState {
  /** LogME score of each pre-trained source, in the order of the concatenated features. */
  scores: readonly number[];
  /** Width D_i of each source's slice of ψ; they sum to D. */
  featureDims: readonly number[];
  /** Source i's LogME weights W_i, row-major K×D_i. */
  sourceWeights: readonly ArrayLike<number>[];
  /** The student's LogME weights W_d, row-major K×d, held fixed during training. */
  studentWeights: ArrayLike<number>;
  numClasses: number;
  /** Softmax temperature of the mixture (default 0.1). */
  temperature?: number;
}

/**
 * The error for B-Tuning when no pre-trained source has a LogME score (said before training from
 * the sources' quality, and by the method itself on the set it trains on), with each source's reason.
 */
export function noLogmeSources(methodName: string, reasons: readonly { source: string; reason: string }[]): AftError {
  const why = reasons.map((r) => `${r.source}: ${r.reason}`).join('; ');
  return badInput(
    `${methodName} (B-Tuning) weights the pre-trained sources by their LogME, and no source has one (${why}). Remove ${methodName} from methods, or fix what stops LogME.`,
  );
}

/** π = softmax(scores / T), in float64 with the maximum subtracted so large scores cannot overflow. */
export function sourceMixture(scores: readonly number[], temperature = BTUNE_TEMPERATURE): number[] {
  if (!(temperature > 0)) throw badInput(`B-Tuning: the temperature must be positive, got ${temperature}`);
  if (scores.length === 0) throw badInput('B-Tuning needs at least one pre-trained source');
  // −∞ marks a source left out (no LogME); it gets π = 0.
  const bad = scores.findIndex((s) => Number.isNaN(s) || s === Infinity);
  if (bad >= 0) throw badInput(`B-Tuning: the LogME score of source ${bad} is ${scores[bad]}`);
  if (!scores.some(Number.isFinite)) throw badInput('B-Tuning: no source has a LogME score');
  const top = Math.max(...scores);
  const e = scores.map((s) => Math.exp((s - top) / temperature));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/**
 * M (D×K) with ψ M = Σ_i π_i ψ_i W_iᵀ: source i's rows are π_i W_iᵀ. Checks that the state's
 * shapes agree with each other and with `psiDim` when given.
 */
export function mixedProjection(state: BTuneState, psiDim?: number): { matrix: Float32Array; psiDim: number } {
  const { featureDims, sourceWeights, scores, numClasses: k } = state;
  if (featureDims.length !== scores.length || sourceWeights.length !== scores.length) {
    throw badInput(
      `B-Tuning: ${scores.length} LogME scores, ${featureDims.length} feature widths and ${sourceWeights.length} weight matrices; one of each per source`,
    );
  }
  const total = featureDims.reduce((a, b) => a + b, 0);
  if (psiDim !== undefined && total !== psiDim)
    throw badInput(`B-Tuning: the sources' feature widths sum to ${total}, but ψ has ${psiDim} columns`);
  const pi = sourceMixture(scores, state.temperature);
  const m = new Float32Array(total * k);
  let row = 0;
  featureDims.forEach((di, i) => {
    const w = sourceWeights[i];
    if (w.length !== k * di)
      throw badInput(`B-Tuning: source ${i}'s LogME weights have ${w.length} values, expected ${k}×${di}`);
    for (let a = 0; a < di; a++) for (let c = 0; c < k; c++) m[(row + a) * k + c] = pi[i] * w[c * di + a];
    row += di;
  });
  return { matrix: m, psiDim: total };
}

/** The constant regression target Σ_i π_i ψ_i W_iᵀ (B×K) given M from `mixedProjection`. */
export function btuneTarget(psi: Tensor2D, mixed: Tensor2D): Tensor2D {
  return tf.matMul(psi, mixed);
}

/** R = mean over the batch and classes of (φ W_dᵀ − target)². */
export function btuneLoss(phi: Tensor2D, studentWeights: Tensor2D, target: Tensor2D): Scalar {
  return tf.mean(tf.square(tf.sub(matMulT(phi, studentWeights), target)));
}

/**
 * B-Tuning as a TransferMethod. The LogME state is computed beforehand (LogME of each source's
 * and of the student's training features); nothing here is trained.
 */
export function createBTune({ method, featureDim, psiDim }: MethodSetup, state: BTuneState): TransferMethod {
  const { matrix } = mixedProjection(state, psiDim);
  const k = state.numClasses;
  if (state.studentWeights.length !== k * featureDim) {
    throw badInput(
      `B-Tuning: the student's LogME weights have ${state.studentWeights.length} values, expected ${k}×${featureDim}`,
    );
  }
  const mixed = tf.tensor2d(matrix, [psiDim, k]);
  const wd = tf.tensor2d(Float32Array.from(state.studentWeights), [k, featureDim]);
  return {
    name: method.name,
    modelParams: [],
    priorParams: [],
    usesPretrained: true,
    regularizer: (phi, psi) => btuneLoss(phi, wd, btuneTarget(psi, mixed)),
    dispose: () => {
      mixed.dispose();
      wd.dispose();
    },
  };
}
