/**
 * Factor transfer (Kim et al., NeurIPS 2018) with pre-trained features as the teacher: a frozen
 * autoencoder ("paraphraser", see factorAutoencoder.ts) turns ψ into factors, and a translator
 * MLP on the student's features φ learns to point the same way,
 *
 *   R = mean over the batch of ‖ n(T(φ)) − n(E(ψ)) ‖₁,  n(x) = x / ‖x‖₂.
 *
 * The translator is φ (d) → h → h → factors, ReLU between layers, with its last layer
 * initialised to zero: at the start it predicts nothing and sends no gradient into the student,
 * so the student is only pulled once the translator has learnt a direction.
 */
import { tf, type Scalar, type Tensor2D } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import type { FactorAutoencoder } from './factorAutoencoder';
import type { MethodSetup, TransferMethod } from './method';
import { applyMlp, createMlp, mlpVariables } from './mlp';

/**
 * n(x) = x / sqrt(‖x‖² + ε²). With ε → 0 this is the L2 normalisation of the paper; ε keeps it
 * differentiable at 0, where the zero-initialised translator starts. There the gradient is I/ε,
 * and ε = 1e-3 keeps that first step within a few orders of magnitude of later ones (PyTorch's
 * F.normalize, x / max(‖x‖, 1e-12), would hand Adam a 1e12 first gradient that freezes its
 * second-moment estimate for thousands of steps).
 */
const NORM_EPS = 1e-3;

export function normaliseRows(x: Tensor2D): Tensor2D {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), NORM_EPS * NORM_EPS)));
}

/** Mean over rows of the L1 distance between the row-normalised prediction and factor. */
export function factorTransferLoss(prediction: Tensor2D, factors: Tensor2D): Scalar {
  return tf.mean(tf.sum(tf.abs(tf.sub(normaliseRows(prediction), normaliseRows(factors))), 1));
}

export interface FactorTransferOptions {
  /** Hidden width of the translator; default: the factor width. */
  hidden?: number;
}

/**
 * Factor transfer as a TransferMethod. The translator's weights are model parameters (trained
 * with the student); the autoencoder is frozen and owned by the caller, who may share it
 * between runs and disposes it after them.
 */
export function createFactorTransfer(
  { method, featureDim, psiDim, rng }: MethodSetup,
  ae: FactorAutoencoder,
  opts: FactorTransferOptions = {},
): TransferMethod {
  if (ae.inputDim !== psiDim)
    throw badInput(
      `factor transfer: the autoencoder was trained on ${ae.inputDim}-wide features but ψ is ${psiDim} wide`,
    );
  const hidden = opts.hidden ?? ae.factorDim;
  const translator = createMlp(rng, [featureDim, hidden, hidden, ae.factorDim], 'ft.translator', true);
  const params = mlpVariables(translator);
  return {
    name: method.name,
    modelParams: params,
    priorParams: [],
    usesPretrained: true,
    regularizer: (phi, psi) => factorTransferLoss(applyMlp(translator, phi), ae.encode(psi)),
    dispose: () => tf.dispose(params),
  };
}
