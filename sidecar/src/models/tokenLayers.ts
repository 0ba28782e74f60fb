/**
 * Layers of the token models (the text transformer, ViT, MLP-Mixer) with PyTorch's semantics:
 * LayerNorm over the last axis, exact-erf GELU (nn.GELU's default), batched products whose
 * gradients are plain products of explicitly transposed operands (tfjs's transposed-operand
 * matMul is ~10x slower on wasm), linear layers applied to every token, patch embeddings and
 * seeded dropout, and embedding lookups whose gradient is a scatter-add (wasm has no
 * UnsortedSegmentSum for gather's gradient). LayerNorm and GELU have hand-written gradients;
 * softmax uses tfjs's autodiff.
 */
import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../runtime/tf';
import type { Rng } from '../util/rng';
import { dense, denseT } from './layers';

/** Rows of `table` at `ids` ([n] int32), with a scatter-add gradient for the table. */
export const embed = tf.customGrad<Tensor2D>((...args: unknown[]) => {
  const [table, ids, save] = args as [Tensor2D, tf.Tensor1D, (ts: Tensor[]) => void];
  save([ids]);
  return {
    value: tf.gather(table, ids),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [idx] = saved as [tf.Tensor1D];
      return [tf.scatterND(tf.reshape(idx, [-1, 1]), dy as Tensor2D, table.shape), tf.zerosLike(idx)];
    },
  };
}) as (table: Tensor2D, ids: tf.Tensor1D) => Tensor2D;

/** Swaps the last two axes. */
export function swapLast(t: Tensor): Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[perm.length - 1], perm[perm.length - 2]] = [perm[perm.length - 2], perm[perm.length - 1]];
  return tf.transpose(t, perm);
}

/** Batched a·b over leading axes, gradients as plain products. */
export const bmm = tf.customGrad<Tensor>((...args: unknown[]) => {
  const [a, b, save] = args as [Tensor, Tensor, (ts: Tensor[]) => void];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const g = dy as tf.Tensor3D;
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [tf.matMul(g, swapLast(bs)), tf.matMul(swapLast(as), g)];
    },
  };
});

/**
 * Multi-head scaled dot-product attention, as PyTorch's encoders compute it: q, k and v hold
 * `n` sequences of `tokens` rows of `heads`·hd values (any layout of those elements, e.g. [n, T, d]
 * or [n·T, d]); each head's scores q·kᵀ are scaled by hd^-0.5, `keyBias` ([n, 1, 1, T], a large
 * negative value at padding keys) is added when given, then softmax and `dropProbs` on the
 * probabilities. Gives the context [n, T, d], heads concatenated in order (PyTorch's
 * `transpose(1, 2).reshape`).
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: { n: number; tokens: number; heads: number },
  opts: { keyBias?: Tensor; dropProbs?: (p: Tensor) => Tensor } = {},
): Tensor {
  const { n, tokens, heads } = shape;
  const d = q.size / (n * tokens);
  const hd = d / heads;
  const split = (t: Tensor): Tensor => tf.transpose(tf.reshape(t, [n, tokens, heads, hd]), [0, 2, 1, 3]);
  const scaled = tf.mul(bmm(split(q), swapLast(split(k))), 1 / Math.sqrt(hd));
  const probs = tf.softmax(opts.keyBias ? tf.add(scaled, opts.keyBias) : scaled);
  const context = bmm(opts.dropProbs ? opts.dropProbs(probs) : probs, split(v));
  return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [n, tokens, d]);
}

/**
 * nn.LayerNorm over the last axis (biased variance, ε inside the square root) with a
 * hand-written gradient: x̂ = (x − μ)·r with r = 1/√(σ² + ε), y = x̂·γ + β, and
 * dx = r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) for dx̂ = dy·γ. Autodiff through tf.moments ran about
 * twice as many kernels, each a pass over the activations (25 LayerNorms in a ViT-Tiny step).
 */
function makeLayerNorm(eps: number) {
  return tf.customGrad<Tensor>((...args: unknown[]) => {
    const [x, g, b, save] = args as [Tensor, Tensor, Tensor, (ts: Tensor[]) => void];
    const { mean, variance } = tf.moments(x, -1, true);
    const r = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(tf.sub(x, mean), r);
    save([xhat, r, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.tidy(() => {
          const gy = dy as Tensor;
          const [xh, rs, gs] = saved;
          const d = gy.shape[gy.shape.length - 1];
          const rows = gy.size / d;
          const dxhat = tf.mul(gy, gs);
          const a = tf.mean(dxhat, -1, true);
          const c = tf.mean(tf.mul(dxhat, xh), -1, true);
          const dx = tf.mul(tf.sub(tf.sub(dxhat, a), tf.mul(xh, c)), rs);
          const flat = (t: Tensor): Tensor2D => tf.reshape(t, [rows, d]);
          return [dx, tf.sum(flat(tf.mul(gy, xh)), 0), tf.sum(flat(gy), 0)];
        }),
    };
  });
}

const layerNorms = new Map<number, (x: Tensor, g: Tensor, b: Tensor) => Tensor>();

/** nn.LayerNorm over the last axis: biased variance, ε inside the square root (see makeLayerNorm). */
export function layerNorm(x: Tensor, g: Tensor, b: Tensor, eps = 1e-5): Tensor {
  let f = layerNorms.get(eps);
  if (!f) layerNorms.set(eps, (f = makeLayerNorm(eps)));
  return f(x, g, b);
}

/**
 * nn.GELU(): x·Φ(x) with the exact error function (not the tanh approximation). The gradient,
 * Φ(x) + x·φ(x), is written by hand so that a step keeps only x per layer, not the four
 * intermediates autodiff would (the MLP's widest activations).
 */
export const gelu = tf.customGrad<Tensor>((...args: unknown[]) => {
  const [x, save] = args as [Tensor, (ts: Tensor[]) => void];
  save([x]);
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
      tf.tidy(() => {
        const [xs] = saved as [Tensor];
        const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(xs, Math.SQRT1_2))));
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), 1 / Math.sqrt(2 * Math.PI));
        return [tf.mul(dy as Tensor, tf.add(cdf, tf.mul(xs, pdf)))];
      }),
  };
});

/** nn.Linear on the last axis of [..., in]: W is PyTorch's [out, in]. */
export function linear(x: Tensor, w: Tensor, b: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  const y = denseT(tf.reshape<tf.Rank.R2>(x, [-1, x.shape[x.shape.length - 1]]), w as Tensor2D, b);
  return tf.reshape(y, [...lead, w.shape[0]]);
}

/**
 * A P×P stride-P convolution (timm's PatchEmbed) of NHWC images as one product: the image cut
 * into [B·gh·gw, P·P·C] rows in (y, x, c) order times the kernel in HWIO order [P, P, C, D]
 * flattened, plus the bias; gives [B, gh·gw, D], tokens in row-major order as PyTorch's
 * `flatten(2).transpose(1, 2)`. The images are data: no gradient is computed for them (as for
 * the ResNet and EfficientNet stems), which saves a product as large as the stem's.
 */
export function patchEmbed(x: Tensor4D, w: Tensor4D, b: Tensor): Tensor {
  const [n, h, wd, c] = x.shape;
  const [p, , , d] = w.shape;
  const gh = h / p;
  const gw = wd / p;
  const rows = tf.reshape<tf.Rank.R2>(tf.transpose(tf.reshape(x, [n * gh, p, gw, p * c]), [0, 2, 1, 3]), [
    n * gh * gw,
    p * p * c,
  ]);
  return tf.reshape(dense(rows, tf.reshape(w, [p * p * c, d]), b, true), [n, gh * gw, d]);
}

/** nn.Dropout in training (rate > 0): zeroes with probability `rate`, scales the rest by 1/(1 − rate); masks from the seeded stream. */
export function dropout(x: Tensor, rate: number, train: boolean, rng: Rng): Tensor {
  if (!train || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, Math.floor(rng.next() * 2 ** 31));
}
