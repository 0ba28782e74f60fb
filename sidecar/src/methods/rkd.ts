/**
 * Relational knowledge distillation (Park et al., CVPR 2019) between the student's features φ
 * (B×d) and the pre-trained features ψ (B×D), with ψ as a constant teacher:
 *
 *   R = (L_dist + 2·L_angle) / 2,
 *
 * - L_dist: smooth-L1 (β = 1, mean over all B² entries, the zero diagonal included) between the
 *   pairwise Euclidean distance matrices, each divided by the mean of its B(B−1) off-diagonal
 *   entries (the reference `pdist` clamps squared distances at 1e-12, so they are all positive);
 * - L_angle: smooth-L1 (mean over all B³ entries) between cos∠(x_b − x_a, x_c − x_a) for every
 *   anchor a and pair (b, c), where a difference of zero length contributes a cosine of 0 (what
 *   `F.normalize` does to a zero vector, e.g. whenever b = a).
 * This is exactly `RkdDistance` + 2·`RKdAngle` of the reference code, halved; the golden cases
 * pin these conventions.
 *
 * Everything is computed from the B×B Gram matrix G = X Xᵀ of the batch-centred features, since
 * (x_b − x_a)·(x_c − x_a) = G_bc − G_ab − G_ac + G_aa. The reference builds the B×B×D tensor of
 * differences instead, which for a 1024-wide teacher at B = 128 is 16M floats and 2 GFLOP; here
 * the only cubic object is the B×B×B tensor of cosines, processed a block of anchors at a time.
 * Centring first (both terms are translation invariant) keeps the float32 cancellation in that
 * identity at the level of the batch's spread rather than of its distance from the origin.
 *
 * The gradient is written out by hand (a customGrad) so that memory stays bounded: with tfjs's
 * tape every block's B×B×B intermediates would stay alive until the backward pass. The forward
 * pass accumulates ∂R/∂G block by block, and the gradient is then (∂R/∂G + ∂R/∂Gᵀ) X.
 */
import { tf, type Scalar, type Tensor, type Tensor1D, type Tensor2D } from '../runtime/tf';
import { matMulT } from '../models/layers';
import { badInput } from '../../../core/common/util/errors';
import type { MethodFactory } from './method';

export interface RkdOptions {
  /**
   * Anchors per block of the angle term. The default keeps a block near 2^17 cosines (512 KB):
   * on wasm at B = 128 that measured 95 ms and 20 MiB peak for value and gradient, against 77 ms
   * and 237 MiB for one block of all 128 anchors, and 180 ms for blocks of 2.
   */
  anchorBlock?: number;
}

/** The reference `pdist`'s clamp on squared distances. */
const SQ_FLOOR = 1e-12;
const BLOCK_ELEMENTS = 2 ** 17;

/** Pairwise geometry of one side, all B×B except the norms. */
interface Geometry {
  /** Batch-centred features. */
  x: Tensor2D;
  gram: Tensor2D;
  /** Squared norms ‖x_a‖² (= G_aa). */
  norms: Tensor1D;
  /** Squared distances n_a + n_b − 2G_ab (may carry round-off, even slightly negative). */
  sq: Tensor2D;
  /** Distances with the diagonal set to 0. */
  dist: Tensor2D;
  /** 1/‖x_b − x_a‖ for distinct points, 0 on the diagonal and for coincident pairs. */
  inv: Tensor2D;
}

/**
 * Squared distances below a few times the float32 round-off of a length-d dot product (relative
 * to n_a + n_b) are indistinguishable from duplicates; they get the reference's treatment of
 * exact duplicates (a zero unit vector) instead of a cosine made of rounding noise.
 */
function coincidenceTol(d: number): number {
  return 8 * Math.sqrt(d) * 2 ** -23;
}

function geometry(features: Tensor2D): Geometry {
  const [b, d] = features.shape;
  const x = tf.sub<Tensor2D>(features, tf.mean(features, 0, true));
  const gram = matMulT(x, x);
  const norms = tf.sum<Tensor1D>(tf.square(x), 1);
  const pairNorms = tf.add(tf.reshape(norms, [b, 1]), tf.reshape(norms, [1, b]));
  const sq = tf.sub<Tensor2D>(pairNorms, tf.mul(gram, 2));
  const off = tf.sub(1, tf.eye(b));
  const dist = tf.mul<Tensor2D>(tf.sqrt(tf.maximum(sq, SQ_FLOOR)), off);
  const distinct = tf.mul(
    tf.cast(tf.greater(sq, tf.maximum(tf.mul(pairNorms, coincidenceTol(d)), SQ_FLOOR)), 'float32'),
    off,
  );
  const inv = tf.mul<Tensor2D>(tf.rsqrt(tf.maximum(sq, SQ_FLOOR)), distinct);
  return { x, gram, norms, sq, dist, inv };
}

/** Elementwise smooth-L1 with β = 1: ½t² inside [−1, 1], |t| − ½ outside. */
function smoothL1(t: Tensor): Tensor {
  const a = tf.abs(t);
  return tf.where(tf.less(a, 1), tf.mul(tf.square(t), 0.5), tf.sub(a, 0.5));
}

/** L_dist and ∂L_dist/∂sq of the student (B×B). */
function distanceTerm(s: Geometry, t: Geometry): { loss: Scalar; dSq: Tensor2D } {
  const b = s.dist.shape[0];
  const pairs = b * (b - 1);
  const mu = tf.div(tf.sum(s.dist), pairs);
  const sd = tf.div(s.dist, mu);
  const td = tf.div(t.dist, tf.div(tf.sum(t.dist), pairs));
  const diff = tf.sub(sd, td);
  const loss = tf.div<Scalar>(tf.sum(smoothL1(diff)), b * b);
  // R_ab = ∂L/∂(D_ab/μ); through μ = ΣD/(B(B−1)) every entry also moves every other.
  const r = tf.div(tf.clipByValue(diff, -1, 1), b * b);
  const viaMean = tf.div(tf.sum(tf.mul(r, s.dist)), tf.mul(tf.square(mu), pairs));
  const off = tf.sub(1, tf.eye(b));
  const dDist = tf.mul(tf.sub(tf.div(r, mu), viaMean), off);
  // D = sqrt(max(sq, floor)): no gradient where the clamp is active; D ≥ 1e-6 off the diagonal.
  const live = tf.cast(tf.greater(s.sq, SQ_FLOOR), 'float32');
  const dSq = tf.mul<Tensor2D>(tf.div(dDist, tf.add(tf.mul(s.dist, 2), tf.eye(b))), live);
  return { loss, dSq };
}

/** Cosines at anchors [a0, a0 + c): (c×B×B), clipped to [−1, 1], and where clipping was inactive. */
function anchorCosines(g: Geometry, a0: number, c: number): { cos: Tensor; inside: Tensor; invRows: Tensor2D } {
  const b = g.gram.shape[0];
  const rows = tf.slice(g.gram, [a0, 0], [c, b]);
  const invRows = tf.slice(g.inv, [a0, 0], [c, b]);
  const normRows = tf.slice(g.norms, [a0], [c]);
  // (x_b − x_a)·(x_c − x_a) = G_bc − G_ab − G_ac + G_aa
  const dots = tf.add(
    tf.sub(tf.sub(tf.reshape(g.gram, [1, b, b]), tf.reshape(rows, [c, b, 1])), tf.reshape(rows, [c, 1, b])),
    tf.reshape(normRows, [c, 1, 1]),
  );
  const raw = tf.mul(tf.mul(dots, tf.reshape(invRows, [c, b, 1])), tf.reshape(invRows, [c, 1, b]));
  return { cos: tf.clipByValue(raw, -1, 1), inside: tf.cast(tf.lessEqual(tf.abs(raw), 1), 'float32'), invRows };
}

/** One block of anchors: its share of L_angle and of ∂L_angle/∂(G, n, sq). */
function angleBlock(
  s: Geometry,
  t: Geometry,
  a0: number,
  c: number,
): { loss: Scalar; dGram: Tensor2D; dRows: Tensor2D; dNorms: Tensor1D; dSqRows: Tensor2D } {
  const b = s.gram.shape[0];
  const { cos, inside, invRows } = anchorCosines(s, a0, c);
  const diff = tf.sub(cos, anchorCosines(t, a0, c).cos);
  const loss = tf.div<Scalar>(tf.sum(smoothL1(diff)), b * b * b);
  const g = tf.mul(tf.div(tf.clipByValue(diff, -1, 1), b * b * b), inside);
  // p = ∂L/∂dots_abc = g · inv_ab · inv_ac; dots = G_bc − G_ab − G_ac + n_a.
  const p = tf.mul(tf.mul(g, tf.reshape(invRows, [c, b, 1])), tf.reshape(invRows, [c, 1, b]));
  const dGram = tf.sum<Tensor2D>(p, 0);
  const dRows = tf.neg<Tensor2D>(tf.add(tf.sum(p, 2), tf.sum(p, 1)));
  const dNorms = tf.sum<Tensor1D>(p, [1, 2]);
  // inv_ab appears in cos_abc and cos_acb for every c; ∂inv/∂sq = −inv³/2.
  const gc = tf.mul(g, cos);
  const dSqRows = tf.mul<Tensor2D>(tf.mul(tf.square(invRows), -0.5), tf.add(tf.sum(gc, 2), tf.sum(gc, 1)));
  return { loss, dGram, dRows, dNorms, dSqRows };
}

/** Loss and the symmetrised ∂R/∂G (with the norm and distance paths folded onto it). */
function lossAndGramGrad(
  phi: Tensor2D,
  psi: Tensor2D,
  block: number,
): { loss: Scalar; x: Tensor2D; dGramSym: Tensor2D } {
  const b = phi.shape[0];
  const s = geometry(phi);
  const t = geometry(psi);
  const dist = distanceTerm(s, t);
  let lossAngle: Scalar = tf.scalar(0);
  let dGram: Tensor2D = tf.zeros([b, b]);
  const rows: Tensor2D[] = [];
  const norms: Tensor1D[] = [];
  const sqRows: Tensor2D[] = [];
  for (let a0 = 0; a0 < b; a0 += block) {
    const c = Math.min(block, b - a0);
    // Each block's B×B×B intermediates are freed before the next block starts.
    const part = tf.tidy(() => {
      const r = angleBlock(s, t, a0, c);
      return [tf.add(lossAngle, r.loss), tf.add(dGram, r.dGram), r.dRows, r.dNorms, r.dSqRows] as const;
    });
    lossAngle.dispose();
    dGram.dispose();
    lossAngle = part[0] as Scalar;
    dGram = part[1] as Tensor2D;
    rows.push(part[2]);
    norms.push(part[3]);
    sqRows.push(part[4]);
  }
  const loss = tf.add<Scalar>(tf.mul(dist.loss, 0.5), lossAngle);
  // R = ½L_dist + L_angle; sq_ab = n_a + n_b − 2G_ab.
  const dSq = tf.add(tf.mul(dist.dSq, 0.5), tf.concat(sqRows, 0));
  const dNorms = tf.add(tf.add(tf.concat(norms, 0), tf.sum(dSq, 1)), tf.sum(dSq, 0));
  const full = tf.add(tf.add(tf.sub(dGram, tf.mul(dSq, 2)), tf.concat(rows, 0)), tf.diag(dNorms));
  return { loss, x: s.x, dGramSym: tf.add(full, tf.transpose(full)) };
}

function makeRkd(block: number): (phi: Tensor2D, psi: Tensor2D) => Scalar {
  // tfjs types customGrad's callback as variadic (Tensor | GradSaveFunc)[]; the casts name them.
  return tf.customGrad<Scalar>((...args: unknown[]) => {
    const [phi, psi, save] = args as [Tensor2D, Tensor2D, (ts: Tensor[]) => void];
    if (phi.shape[0] < 2) {
      // A batch of one has no pairs: no relation to transfer.
      return { value: tf.scalar(0), gradFunc: () => [tf.zerosLike(phi), tf.zerosLike(psi)] };
    }
    const { loss, x, dGramSym } = lossAndGramGrad(phi, psi, block);
    save([x, dGramSym]);
    return {
      value: loss,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [xs, gs] = saved as [Tensor2D, Tensor2D];
        const gx = tf.matMul(gs, xs);
        // R is translation invariant, so its gradient sums to zero over the batch; removing the
        // column means only strips round-off.
        return [tf.mul(tf.sub(gx, tf.mean(gx, 0, true)), dy as Scalar), tf.zerosLike(psi)];
      },
    };
  });
}

const byBlock = new Map<number, (phi: Tensor2D, psi: Tensor2D) => Scalar>();

/**
 * RKD loss (L_dist + 2·L_angle)/2 of student features φ (B×d) against constant teacher
 * features ψ (B×D). Differentiable in φ; ψ receives a zero gradient. A batch of one gives 0.
 */
export function rkdLoss(phi: Tensor2D, psi: Tensor2D, opts: RkdOptions = {}): Scalar {
  const b = phi.shape[0];
  if (psi.shape[0] !== b)
    throw badInput(`RKD: the student batch has ${b} rows but the teacher batch has ${psi.shape[0]}`);
  const block = Math.max(1, Math.min(b, Math.floor(opts.anchorBlock ?? BLOCK_ELEMENTS / (b * b))));
  let f = byBlock.get(block);
  if (!f) byBlock.set(block, (f = makeRkd(block)));
  return f(phi, psi);
}

/** RKD as a TransferMethod: no parameters of its own, ψ is the teacher. */
export const rkdMethod: MethodFactory = ({ method }) => ({
  name: method.name,
  modelParams: [],
  priorParams: [],
  usesPretrained: true,
  regularizer: (phi, psi) => rkdLoss(phi, psi),
  dispose() {},
});
