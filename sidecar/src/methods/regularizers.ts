/**
 * The regularisers of the paper as pure functions of tensors, so that training and the golden
 * tests (float64 PyTorch values in ../shared/golden) run exactly the same code.
 */
import { tf, type Scalar, type Tensor, type Tensor1D, type Tensor2D } from '../runtime/tf';
import { matMulT } from '../models/layers';

export type KernelKind = 'linear' | 'rbf';

/** Subtracts each column's batch mean. */
export function centreColumns(a: Tensor2D): Tensor2D {
  return tf.sub(a, tf.mean(a, 0, true));
}

/** Centres columns, then divides each row by (its L2 norm + 1e-8) (AFT steps 2). */
export function centreAndNormalise(a: Tensor2D): Tensor2D {
  const c = centreColumns(a);
  const norms = tf.sqrt(tf.sum(tf.square(c), 1, true));
  return tf.div(c, tf.add(norms, 1e-8));
}

/** B×B kernel of row-normalised features: linear a aᵀ, or RBF exp(−‖a_i − a_j‖²). */
export function kernelMatrix(an: Tensor2D, kind: KernelKind): Tensor2D {
  const gram = matMulT(an, an);
  if (kind === 'linear') return gram;
  const sq = tf.sum(tf.square(an), 1, true);
  const dist = tf.relu(tf.sub(tf.add(sq, tf.transpose(sq)), tf.mul(gram, 2)));
  return tf.exp(tf.neg(dist)) as Tensor2D;
}

/** R = sqrt(mean((K − Kψ)²) + 1e-8), the AFT kernel distance. */
export function aftKernelLoss(phi: Tensor2D, psiWeighted: Tensor2D, kind: KernelKind): Scalar {
  const k = kernelMatrix(centreAndNormalise(phi), kind);
  const kp = kernelMatrix(centreAndNormalise(psiWeighted), kind);
  return tf.sqrt(tf.add(tf.mean(tf.square(tf.sub(k, kp))), 1e-8));
}

/** ψ' = ψ ⊙ sigmoid(s). */
export function weightBySigmoid(psi: Tensor2D, s: Tensor1D): Tensor2D {
  return tf.mul(psi, tf.sigmoid(s));
}

/** AFT without a kernel: mean((c(φ) − c(ψWᵀ + b))²) with W ∈ R^{d×D}. */
export function aftNoKernelLoss(phi: Tensor2D, psi: Tensor2D, w: Tensor2D, b: Tensor1D): Scalar {
  const pred = tf.add<Tensor2D>(matMulT(psi, w), b);
  return tf.mean(tf.square(tf.sub(centreColumns(phi), centreColumns(pred))));
}

/** Feature KD (paper Eq. 7): mean((φWᵀ + b − ψ)²) with W ∈ R^{D×d}. */
export function kdLoss(phi: Tensor2D, psi: Tensor2D, w: Tensor2D, b: Tensor1D): Scalar {
  const pred = tf.add(matMulT(phi, w), b);
  return tf.mean(tf.square(tf.sub(pred, psi)));
}

/** Mean softmax cross-entropy of integer labels. */
export function crossEntropy(logits: Tensor2D, labels: Tensor): Scalar {
  const logp = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(labels as Tensor1D, logits.shape[1])), 1);
  return tf.neg(tf.mean(picked));
}
