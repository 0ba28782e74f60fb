/**
 * Factor transfer (Kim et al., NeurIPS 2018) with pre-trained features as the teacher, as the AFT
 * reference code runs it: a frozen autoencoder ("paraphraser", see factorAutoencoder.ts) per
 * source turns that source's slice of ψ into factors, the factors of all sources are
 * concatenated (F wide in all), and a translator MLP on the student's features φ learns to
 * point the same way,
 *
 *   R = mean over the batch of ‖ n(T(φ)) − n(E(ψ)) ‖₁,  n(x) = x / ‖x‖₂.
 *
 * The translator is φ (d) → d → F → F, ReLU between layers (the reference's FTPrior), with its
 * last layer initialised to zero: at the start it predicts nothing and sends no gradient into
 * the student, so the student is only pulled once the translator has learnt a direction.
 */
import { tf, type Scalar, type Tensor, type Tensor2D } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import type { Segment } from '../../../core/common/protocol/events';
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
export const NORM_EPS = 1e-3;

export function normaliseRows(x: Tensor2D): Tensor2D {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), NORM_EPS * NORM_EPS)));
}

/** Mean over rows of the L1 distance between the row-normalised prediction and factor. */
export function factorTransferLoss(prediction: Tensor2D, factors: Tensor2D): Scalar {
  return tf.mean(tf.sum(tf.abs(tf.sub(normaliseRows(prediction), normaliseRows(factors))), 1));
}

/** One source's frozen encoder and where its features sit in ψ. */
export interface SourceEncoder {
  segment: Segment;
  encode: (psiPart: Tensor2D) => Tensor2D;
}

/** The factors of every source of a ψ batch, concatenated in source order. */
export function sourceFactors(psi: Tensor2D, sources: readonly SourceEncoder[]): Tensor2D {
  const parts = sources.map((src) =>
    src.encode(sources.length === 1 ? psi : tf.slice(psi, [0, src.segment.offset], [-1, src.segment.width])),
  );
  return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
}

/** R(φ, ψ) for a translator and the sources' encoders: what training and the golden test compute. */
export function factorTransferRegularizer(
  translator: readonly { w: Tensor; b: Tensor }[],
  sources: readonly SourceEncoder[],
): (phi: Tensor2D, psi: Tensor2D) => Scalar {
  return (phi, psi) => factorTransferLoss(applyMlp(translator, phi), sourceFactors(psi, sources));
}

/**
 * Factor transfer as a TransferMethod. The translator's weights are model parameters (trained
 * with the student); the autoencoders, one per segment of ψ in order, are frozen and owned by
 * the caller, who may share them between runs and disposes them after them.
 */
export function createFactorTransfer(
  { method, featureDim, psiDim, rng, data }: MethodSetup,
  autoencoders: readonly FactorAutoencoder[],
): TransferMethod {
  const segments = data.segments;
  const covered = segments.reduce((n, s) => n + s.width, 0);
  if (autoencoders.length !== segments.length || covered !== psiDim)
    throw badInput(
      `factor transfer: ${autoencoders.length} autoencoders for ${segments.length} sources ${covered} wide, but ψ is ${psiDim} wide`,
    );
  const sources = segments.map((segment, i): SourceEncoder => {
    const ae = autoencoders[i];
    if (ae.inputDim !== segment.width)
      throw badInput(
        `factor transfer: the autoencoder of ${segment.name} was trained on ${ae.inputDim}-wide features but the source is ${segment.width} wide`,
      );
    return { segment, encode: (x) => ae.encode(x) };
  });
  const factorDim = autoencoders.reduce((n, ae) => n + ae.factorDim, 0);
  const translator = createMlp(rng, [featureDim, featureDim, factorDim, factorDim], 'ft.translator', true);
  const params = mlpVariables(translator);
  return {
    name: method.name,
    modelParams: params,
    priorParams: [],
    usesPretrained: true,
    regularizer: factorTransferRegularizer(translator, sources),
    dispose: () => tf.dispose(params),
  };
}
