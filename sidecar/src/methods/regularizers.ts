/**
 * The regularisers of the paper as pure functions of tensors, so that training and the golden
 * tests (float64 PyTorch values in test/golden/cases) run exactly the same code.
 */
import { tf, type Scalar, type Tensor, type Tensor1D, type Tensor2D } from '../runtime/tf';
import { denseT, matMulT } from '../models/layers';

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
  if (kind === 'linear') return aftLinearKernelLoss(phi, psiWeighted);
  const k = kernelMatrix(centreAndNormalise(phi), kind);
  const kp = kernelMatrix(centreAndNormalise(psiWeighted), kind);
  return tf.sqrt(tf.add(tf.mean(tf.square(tf.sub(k, kp))), 1e-8));
}

/** Forward of centre-and-normalise, keeping what its gradient needs. */
function normaliseRows(a: Tensor2D): { c: Tensor2D; n: Tensor2D; an: Tensor2D } {
  const c = centreColumns(a);
  const n = tf.sqrt<Tensor2D>(tf.sum(tf.square(c), 1, true));
  return { c, n, an: tf.div<Tensor2D>(c, tf.add(n, 1e-8)) };
}

/** Gradient through an = c / (‖c‖ + ε) and the column centring, given g = dL/d an. */
function normaliseRowsGrad(g: Tensor2D, c: Tensor2D, n: Tensor2D): Tensor2D {
  const ne = tf.add(n, 1e-8);
  // d an/dc = I/(n+ε) − c cᵀ / (n (n+ε)²); rows with n = 0 have c = 0, so the second term is 0.
  const dot = tf.sum(tf.mul(g, c), 1, true);
  const coef = tf.div(dot, tf.maximum(tf.mul(n, tf.square(ne)), 1e-30));
  const gc = tf.sub(tf.div(g, ne), tf.mul(c, coef));
  return tf.sub<Tensor2D>(gc, tf.mean(gc, 0, true));
}

/**
 * The linear-kernel AFT distance with its gradient written out. Autodiff of K = a aᵀ goes
 * through tfjs's transposed-operand products, the slow path on wasm (measured: 146 ms for
 * forward + backward at B=128, D=512 while this takes a fraction of it); here every product is
 * a plain one: with G = (K − Kψ) / (B² R), dL/da = 2 G a and dL/db = −2 G b.
 */
const aftLinearKernelLoss = tf.customGrad<Scalar>((...args: unknown[]) => {
  const [phi, psiW, save] = args as [Tensor2D, Tensor2D, (ts: Tensor[]) => void];
  const x = normaliseRows(phi);
  const y = normaliseRows(psiW);
  const diff = tf.sub(matMulT(x.an, x.an), matMulT(y.an, y.an));
  const r = tf.sqrt<Scalar>(tf.add(tf.mean(tf.square(diff)), 1e-8));
  save([x.c, x.n, x.an, y.c, y.n, y.an, diff, r]);
  return {
    value: r,
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [xc, xn, xa, yc, yn, ya, d, rr] = saved as [
        Tensor2D,
        Tensor2D,
        Tensor2D,
        Tensor2D,
        Tensor2D,
        Tensor2D,
        Tensor2D,
        Scalar,
      ];
      const b = d.shape[0];
      const g = tf.mul(d, tf.div(tf.mul(dy as Scalar, 2), tf.mul(rr, b * b)));
      return [normaliseRowsGrad(tf.matMul(g, xa), xc, xn), normaliseRowsGrad(tf.neg(tf.matMul(g, ya)), yc, yn)];
    },
  };
}) as (phi: Tensor2D, psiWeighted: Tensor2D) => Scalar;

/** ψ' = ψ ⊙ sigmoid(s). */
export function weightBySigmoid(psi: Tensor2D, s: Tensor1D): Tensor2D {
  return tf.mul(psi, tf.sigmoid(s));
}

/** AFT without a kernel: mean((c(φ) − c(ψWᵀ + b))²) with W ∈ R^{d×D}. */
export function aftNoKernelLoss(phi: Tensor2D, psi: Tensor2D, w: Tensor2D, b: Tensor1D): Scalar {
  const pred = denseT(psi, w, b);
  return tf.mean(tf.square(tf.sub(centreColumns(phi), centreColumns(pred))));
}

/** Feature KD (paper Eq. 7): mean((φWᵀ + b − ψ)²) with W ∈ R^{D×d}. */
export function kdLoss(phi: Tensor2D, psi: Tensor2D, w: Tensor2D, b: Tensor1D): Scalar {
  const pred = denseT(phi, w, b);
  return tf.mean(tf.square(tf.sub(pred, psi)));
}

/**
 * Mean softmax cross-entropy of one-hot labels with its gradient written out, (softmax − y)/B:
 * four kernels where autodiff through the mean, the sum, the product and logSoftmax took about a
 * dozen (on wasm each costs tens of µs whatever its size; the demo MLP's step is ~150 kernels).
 */
const softmaxCrossEntropy = tf.customGrad<Scalar>((...args: unknown[]) => {
  const [logits, oneHot, save] = args as [Tensor2D, Tensor2D, (ts: Tensor[]) => void];
  const logp = tf.logSoftmax(logits);
  save([logp, oneHot]);
  return {
    value: tf.neg(tf.mean(tf.sum(tf.mul(logp, oneHot), 1))),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [lp, y] = saved as [Tensor2D, Tensor2D];
      const scale = tf.div(dy as Scalar, lp.shape[0]);
      return [tf.mul(tf.sub(tf.exp(lp), y), scale), tf.zerosLike(y)];
    },
  };
}) as (logits: Tensor2D, oneHot: Tensor2D) => Scalar;

/** Mean softmax cross-entropy of integer labels. */
export function crossEntropy(logits: Tensor2D, labels: Tensor): Scalar {
  return softmaxCrossEntropy(logits, tf.cast(tf.oneHot(labels as Tensor1D, logits.shape[1]), 'float32') as Tensor2D);
}
