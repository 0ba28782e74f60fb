/**
 * The layers of the mobile students (EfficientNet) that the engine did not have: a depthwise
 * convolution with PyTorch's stride and padding, SiLU, and the squeeze-excite gate, each with a
 * hand-written gradient made of forward kernels. tfjs's wasm backend has no
 * DepthwiseConv2dNativeBackpropInput or …BackpropFilter kernels (the cpu and webgpu backends do),
 * so tfjs's own gradient of a depthwise convolution fails there; these run on every backend.
 */
import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../runtime/tf';
import type { ConvGeometry } from './layers';

type Pads = [[number, number], [number, number], [number, number], [number, number]];

const spatialPads = (top: number, bottom: number, left: number, right: number): Pads => [
  [0, 0],
  [top, bottom],
  [left, right],
  [0, 0],
];

/**
 * dy of a stride-s convolution spread to stride 1: [n, (oh−1)·s + 1, (ow−1)·s + 1, c] with dy at
 * every s-th position and zeros between: one axis at a time, each a reshape and a rank-4 pad
 * (no strided writes; tfjs-webgpu's pad shader does not compile for rank 6).
 */
function spread(dy: Tensor4D, s: number): Tensor4D {
  if (s === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const after: Pads = [
    [0, 0],
    [0, 0],
    [0, s - 1],
    [0, 0],
  ];
  const rows = tf.reshape(tf.pad(tf.reshape(dy, [n, oh, 1, ow * c]), after), [n * oh * s, ow, 1, c]);
  const both = tf.reshape<tf.Rank.R4>(tf.pad(rows, after), [n, oh * s, ow * s, c]);
  return tf.slice(both, 0, [n, (oh - 1) * s + 1, (ow - 1) * s + 1, c]);
}

/**
 * A depthwise k×k convolution (PyTorch's `nn.Conv2d(C, C, k, stride, padding, groups=C,
 * bias=False)`) on NHWC input with a [k, k, C, 1] kernel. Gradients:
 * - dx: dy spread to stride 1 (zeros between), convolved depthwise with the kernel flipped
 *   spatially, padded k−1−p before and what reaches the input's size after (cropped when
 *   negative);
 * - dW[ky, kx, c] = Σ x_pad[n, i·s + ky, j·s + kx, c]·dy[n, i, j, c]: per tap, the input window
 *   (a slice, subsampled by a 1×1 average pool when strided) times dy, summed over H and W per
 *   example by a global average pool; the k² taps' [N, C] sums side by side are summed over N
 *   by one product with ones (a product per tap packs its operand each call, and concatenating
 *   the full-size products instead copies k² activations: both measured slower on wasm).
 */
function makeDepthwise(g: ConvGeometry) {
  const { kernel: k, stride: s, pad: p } = g;
  return tf.customGrad<Tensor4D>((...args: unknown[]) => {
    const [x, w, save] = args as [Tensor4D, Tensor4D, (ts: Tensor[]) => void];
    save([x, w]);
    return {
      value: tf.depthwiseConv2d(x, w, s, p ? spatialPads(p, p, p, p) : 'valid'),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.tidy(() => {
          const gy = dy as Tensor4D;
          const [xs, ws] = saved as [Tensor4D, Tensor4D];
          const [n, h, wd, c] = xs.shape;
          const [, oh, ow] = gy.shape;
          // Input gradient.
          const sp = spread(gy, s);
          const before = k - 1 - p;
          const afterH = h + k - 1 - before - sp.shape[1];
          const afterW = wd + k - 1 - before - sp.shape[2];
          const cropped =
            afterH < 0 || afterW < 0
              ? tf.slice(sp, 0, [n, sp.shape[1] + Math.min(0, afterH), sp.shape[2] + Math.min(0, afterW), c])
              : sp;
          const flipped = tf.reverse(ws, [0, 1]);
          const dx = tf.depthwiseConv2d(
            cropped,
            flipped,
            1,
            spatialPads(before, Math.max(0, afterH), before, Math.max(0, afterW)),
          );
          // Filter gradient, tap by tap.
          const xp = p ? tf.pad(xs, spatialPads(p, p, p, p)) : xs;
          const span = [(oh - 1) * s + 1, (ow - 1) * s + 1];
          // Per tap, the product's sum over H and W per example ([N, C], a global average pool);
          // the taps side by side are summed over N in one product with ones.
          const perExample: Tensor2D[] = [];
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const win = tf.slice(xp, [0, ky, kx, 0], [n, span[0], span[1], c]);
              const prod = tf.mul<Tensor4D>(s > 1 ? tf.avgPool(win, 1, s, 'valid') : win, gy);
              perExample.push(tf.reshape(oh * ow === 1 ? prod : tf.avgPool(prod, [oh, ow], 1, 'valid'), [n, c]));
            }
          const sums = tf.matMul(tf.ones([1, n]), tf.concat(perExample, 1));
          const dw = tf.reshape(tf.mul(sums, oh * ow), [k, k, c, 1]);
          return [dx, dw];
        }),
    };
  }) as (x: Tensor4D, w: Tensor4D) => Tensor4D;
}

const depthwiseCache = new Map<string, (x: Tensor4D, w: Tensor4D) => Tensor4D>();

/** A depthwise convolution as PyTorch computes it (see makeDepthwise); `w` is [k, k, C, 1]. */
export function depthwiseConv2d(x: Tensor4D, w: Tensor4D, g: ConvGeometry): Tensor4D {
  const key = `${g.kernel}/${g.stride}/${g.pad}`;
  let f = depthwiseCache.get(key);
  if (!f) depthwiseCache.set(key, (f = makeDepthwise(g)));
  return f(x, w);
}

/** SiLU (swish), x·σ(x); its gradient σ·(1 + x·(1 − σ)) from the saved σ (one sigmoid per step). */
export const silu = tf.customGrad<Tensor>((...args: unknown[]) => {
  const [x, save] = args as [Tensor, (ts: Tensor[]) => void];
  const sig = tf.sigmoid(x);
  save([x, sig]);
  return {
    value: tf.mul(x, sig),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
      tf.tidy(() => {
        const [xs, sg] = saved;
        return [tf.mul(dy as Tensor, tf.mul(sg, tf.add(1, tf.mul(xs, tf.sub(1, sg)))))];
      }),
  };
}) as <T extends Tensor>(x: T) => T;

/**
 * x·a per example and channel (a: [N, C], x: NHWC), the squeeze-excite gate: da is Σ over H, W
 * of dy·x as a global average pool (tfjs's broadcast gradient sums by transposing first).
 */
export const channelGate = tf.customGrad<Tensor4D>((...args: unknown[]) => {
  const [x, a, save] = args as [Tensor4D, Tensor2D, (ts: Tensor[]) => void];
  const [n, , , c] = x.shape;
  const a4 = tf.reshape(a, [n, 1, 1, c]);
  save([x, a4]);
  return {
    value: tf.mul<Tensor4D>(x, a4),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
      tf.tidy(() => {
        const [xs, as] = saved as [Tensor4D, Tensor4D];
        const [, h, w] = xs.shape;
        const g = dy as Tensor4D;
        return [tf.mul(g, as), tf.reshape(tf.mul(globalPool(tf.mul<Tensor4D>(g, xs)), h * w), [n, c])];
      }),
  };
}) as (x: Tensor4D, a: Tensor2D) => Tensor4D;

/**
 * The mean over H and W of NHWC x: [N, C], as a global average pool. Its gradient is dy/(H·W)
 * broadcast by a product with ones: tfjs's AvgPoolGrad loops over the whole window for every
 * input position on wasm (H·W times the work: 426 ms of a 1.9 s EfficientNet-B0 step at batch
 * 32, 64x64).
 */
export const globalPool = tf.customGrad<Tensor2D>((...args: unknown[]) => {
  const [x] = args as [Tensor4D];
  const [n, h, w, c] = x.shape;
  return {
    value: tf.reshape(h * w === 1 ? x : tf.avgPool(x, [h, w], 1, 'valid'), [n, c]),
    gradFunc: (dy: Tensor | Tensor[]) =>
      tf.tidy(() => [tf.mul(tf.ones([1, h, w, 1]), tf.reshape(tf.div(dy as Tensor2D, h * w), [n, 1, 1, c]))]),
  };
}) as (x: Tensor4D) => Tensor2D;
