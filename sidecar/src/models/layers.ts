/**
 * Building blocks written with explicit gradients. tfjs's default matMul gradient uses the
 * transposed-operand path, which on the wasm backend is ~10x slower than a plain product
 * (measured: 9 ms vs 0.8 ms for the 784x128 weight gradient at batch 128); transposing
 * explicitly first keeps every product on XNNPACK's fast path. Where the wasm backend's products
 * run on onnxruntime (`onnxruntimeKernels`), a transposed operand is a flag instead (Gemm reads
 * it transposed as it packs it).
 */
import {
  tf,
  variableFrom,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor4D,
  type Variable,
} from '../runtime/tf';
import { onnxruntimeKernels } from '../runtime/ortKernels';
import { reluGradient } from '../runtime/fusedKernels';
import { channelSum } from './batchNorm';
import type { Rng } from '../util/rng';
import { convOut, type ConvGeometry } from '../../../core/node/students/conv';

export { convOut, type ConvGeometry };

/**
 * relu?(x W + b) as tfjs's _FusedMatMul kernel, called directly: `tf.fused.matMul` runs it unfused
 * (three kernels) whenever a gradient is being taken, because its own gradient of the activation
 * needs the unfused form; ours (makeDense) does not.
 */
function fusedMatMul(x: Tensor2D, w: Tensor2D, b: Tensor, relu: boolean): Tensor2D {
  const [n, k] = x.shape;
  const m = w.shape[1];
  const y = tf
    .engine()
    .runKernel<Tensor>(
      '_FusedMatMul',
      { a: tf.reshape(x, [1, n, k]), b: tf.reshape(w, [1, k, m]), bias: b },
      { transposeA: false, transposeB: false, activation: relu ? 'relu' : 'linear' },
    );
  return tf.reshape(y, [n, m]);
}

/**
 * max(x, 0), its gradient from its output (`reluGradient`: one fused pass on wasm). A custom
 * gradient rather than tfjs's Relu, which keeps its input: measured, ResNet-18's wasm heap at
 * 224², batch 32, 2.27 GB against 2.53 GB with tf.relu (the same tensors' peak; at 64², batch 8,
 * 0.51 against 0.63 GB).
 */
export const relu = tf.customGrad<Tensor>((...args: unknown[]) => {
  const [x, save] = args as [Tensor, (ts: Tensor[]) => void];
  const y = tf.relu(x);
  save([y]);
  return {
    value: y,
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => [reluGradient(tf, dy as Tensor, saved[0])],
  };
}) as <T extends Tensor>(x: T) => T;

/**
 * aᵀ·b for a [K, M] and b [K, N] (a weight gradient: K is the batch, or N·H·W, or B·T), with the
 * narrower of the two transposed: as (bᵀ·a)ᵀ when a is the wider. Transposing a tall matrix can
 * cost more than the product on XNNPACK (an EfficientNet projection, 144 → 24 channels over 8192
 * positions: 2.7 ms against 8.2 ms, CPU time). On onnxruntime, one product with a flag.
 */
export function transposedProduct(a: Tensor2D, b: Tensor2D): Tensor2D {
  // onnxruntime's products read a transposed operand as they pack it (ortKernels.ts).
  if (onnxruntimeKernels(tf)) return tf.matMul(a, b, true, false);
  return a.shape[1] > b.shape[1] ? tf.transpose(tf.matMul(tf.transpose(b), a)) : tf.matMul(tf.transpose(a), b);
}

/**
 * y = x W + b (and relu(x W + b) with `relu`) as one fused kernel, with gradients computed as
 * plain (untransposed-flag) products.
 */
function makeDense(inputIsData: boolean, relu: boolean) {
  // tfjs types customGrad's callback as variadic (Tensor | GradSaveFunc)[]; the casts name them.
  return tf.customGrad<Tensor2D>((...args: unknown[]) => {
    const [x, w, b, save] = args as [Tensor2D, Tensor2D, Tensor, (ts: Tensor[]) => void];
    const y = fusedMatMul(x, w, b, relu);
    save(relu ? [x, w, y] : [x, w]);
    return {
      value: y,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws, ys] = saved as [Tensor2D, Tensor2D, Tensor2D?];
          const g = ys ? reluGradient(tf, dy as Tensor2D, ys) : (dy as Tensor2D);
          // A custom gradient computes every input's gradient, wanted or not: on data (the first
          // layer) dx would be the step's largest product (a third of the demo MLP's matmul time).
          const dx = inputIsData ? tf.zerosLike(xs) : matMulT(g, ws);
          return [dx, transposedProduct(xs, g), tf.sum(g, 0)];
        }),
    };
  });
}

const denseKinds = [false, true].map((onData) => [false, true].map((relu) => makeDense(onData, relu)));

/**
 * y = x W + b. With `inputIsData` (x is data or otherwise needs no gradient: the first layer,
 * AFT's ψ) the gradient of x is not computed.
 */
export function dense(x: Tensor, w: Tensor, b: Tensor, inputIsData = false): Tensor2D {
  return denseKinds[Number(inputIsData)][0](x, w, b);
}

/** relu(x W + b): `dense` and its activation in one kernel (see `dense` for `inputIsData`). */
export function denseRelu(x: Tensor, w: Tensor, b: Tensor, inputIsData = false): Tensor2D {
  return denseKinds[Number(inputIsData)][1](x, w, b);
}

/** y = x Wᵀ + b for W stored as [out, in] (the golden cases' layout), with plain-product gradients. */
export const denseT = tf.customGrad<Tensor2D>((...args: unknown[]) => {
  const [x, w, b, save] = args as [Tensor2D, Tensor2D, Tensor, (ts: Tensor[]) => void];
  save([x, w]);
  return {
    value: tf.add<Tensor2D>(tf.matMul(x, tf.transpose(w)), b),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
      tf.tidy(() => {
        const g = dy as Tensor2D;
        const [xs, ws] = saved as [Tensor2D, Tensor2D];
        return [tf.matMul(g, ws), transposedProduct(g, xs), tf.sum(g, 0)];
      }),
  };
}) as (x: Tensor2D, w: Tensor2D, b: Tensor) => Tensor2D;

/**
 * A product a·bᵀ: on onnxruntime one product (Gemm reads b transposed as it packs it); on
 * XNNPACK b is transposed first (there its autodiff gradient would take tfjs's slow transposed
 * path: take it inside hand-written gradients only).
 */
export function matMulT(a: Tensor2D, b: Tensor2D): Tensor2D {
  return onnxruntimeKernels(tf) ? tf.matMul(a, b, false, true) : tf.matMul(a, tf.transpose(b));
}

/** Glorot-uniform weights from a seeded stream. */
export function glorot(rng: Rng, fanIn: number, fanOut: number, shape: number[]): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

/** He-uniform weights (for layers followed by ReLU). */
export function heUniform(rng: Rng, fanIn: number, shape: number[]): Float32Array {
  const limit = Math.sqrt(6 / fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

export function variable(values: Float32Array, shape: number[], name: string): Variable {
  return variableFrom(tf.tensor(values, shape), true, `${name}_${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * 3x3 stride-1 "same" convolution with a hand-written gradient. The wasm backend has no
 * Conv2DBackpropFilter kernel and its Conv2DBackpropInput is slow, so both gradients are
 * expressed as forward convolutions, which XNNPACK runs fast (measured at batch 128,
 * 14x14x16→32: forward 7 ms, input gradient 7 ms, filter gradient 16 ms):
 * - dx = conv(dy, W flipped spatially with in/out channels swapped), exact for stride 1 "same";
 * - dW = conv(xpadᵀ, dyᵀ) treating the batch as the channel axis, giving [Cin, 3, 3, Cout];
 *   with few input channels (an image's), im2col instead (`filterGradByColumns`).
 * `w` has shape [3, 3, Cin, Cout] (HWIO). When `inputIsData` is set the input gradient is not
 * computed (it is the first layer: nothing upstream needs it).
 */
function makeConv3x3(inputIsData: boolean) {
  return tf.customGrad<Tensor4D>((...args: unknown[]) => {
    const [x, w, save] = args as [Tensor4D, Tensor4D, (ts: Tensor[]) => void];
    save([x, w]);
    return {
      value: tf.conv2d(x, w, 1, 'same'),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.tidy(() => {
          const g = dy as Tensor4D;
          const [xs, ws] = saved as [Tensor4D, Tensor4D];
          if (onnxruntimeKernels(tf)) return ortConvGrads(xs, ws, g, 1, 'same', inputIsData);
          const dx = inputIsData
            ? tf.zerosLike(xs)
            : tf.conv2d(g, tf.transpose<Tensor4D>(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]), 1, 'same');
          if (xs.shape[3] <= COLUMNS_MAX_CIN) return [dx, filterGradByColumns(xs, g)];
          // The convolution pads xᵀ itself (a padded copy first took a PadV2 pass of x).
          const xt = tf.transpose<Tensor4D>(xs, [3, 1, 2, 0]);
          const dyt = tf.transpose<Tensor4D>(g, [1, 2, 0, 3]);
          const dw = tf.transpose(tf.conv2d(xt, dyt, 1, SAME_3X3), [1, 2, 0, 3]);
          return [dx, dw];
        }),
    };
  }) as (x: Tensor4D, w: Tensor4D) => Tensor4D;
}

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/**
 * dx and dW of a convolution by tfjs's own gradient kernels, Conv2DBackpropInput and
 * Conv2DBackpropFilter, which the wasm backend runs on onnxruntime once ortKernels.ts has routed
 * its convolutions there (`onnxruntimeKernels`); a strided dx is col2im there. dx is zeros for
 * `inputIsData`.
 */
function ortConvGrads(
  x: Tensor4D,
  w: Tensor4D,
  dy: Tensor4D,
  stride: number,
  pad: Pads | 'same' | 'valid',
  inputIsData: boolean,
): [Tensor4D, Tensor4D] {
  const dx = inputIsData ? tf.zerosLike(x) : tf.conv2dTranspose(dy, w, x.shape, stride, pad);
  const attrs = { strides: stride, pad, dataFormat: 'NHWC', filterShape: w.shape };
  return [dx, tf.engine().runKernel<Tensor4D>('Conv2DBackpropFilter', { x, dy }, attrs)];
}

/** One pixel of zero padding on each side of the two spatial axes (NHWC). */
const SAME_3X3: Pads = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

/**
 * Up to this many input channels the 3x3 filter gradient is an im2col product. With one channel
 * (MNIST) the batch-as-channels convolution is a GEMM of 9 rows over N·H·W: measured at batch 128,
 * 28x28x1→16, 19 ms against 7-11 ms for the columns and one product (best of 30 on a loaded 2-core
 * machine; of those, transposing the columns took 2 ms, the product under 1 ms).
 */
const COLUMNS_MAX_CIN = 4;

/**
 * dW of a 3x3 stride-1 "same" convolution as colsᵀ·dy: the columns (every tap of every input
 * channel at each output position, [N·H·W, 9·Cin]) come from one convolution with a 0/1 filter,
 * which picks tap (ky, kx) of channel c into column (ky·3 + kx)·Cin + c, so the product is
 * already HWIO.
 */
function filterGradByColumns(x: Tensor4D, dy: Tensor4D): Tensor4D {
  const cin = x.shape[3];
  const cout = dy.shape[3];
  const pick = new Float32Array(9 * cin * 9 * cin);
  // pick[ky, kx, c, (ky·3 + kx)·Cin + c] = 1 in a [3, 3, Cin, 9·Cin] filter.
  for (let t = 0; t < 9; t++) for (let c = 0; c < cin; c++) pick[(t * cin + c) * 9 * cin + t * cin + c] = 1;
  const cols = tf.conv2d(x, tf.tensor4d(pick, [3, 3, cin, 9 * cin]), 1, 'same');
  const dw = tf.matMul(
    tf.transpose(tf.reshape<tf.Rank.R2>(cols, [-1, 9 * cin])),
    tf.reshape<tf.Rank.R2>(dy, [-1, cout]),
  );
  return tf.reshape(dw, [3, 3, cin, cout]);
}

const convHidden = makeConv3x3(false);
const convFirst = makeConv3x3(true);

/** A 3x3 stride-1 "same" convolution without bias (see makeConv3x3). */
export function conv3x3(x: Tensor4D, w: Tensor4D, inputIsData = false): Tensor4D {
  return (inputIsData ? convFirst : convHidden)(x, w);
}

/**
 * x + b for a per-channel bias b of NHWC x, b's gradient a per-channel sum (`channelSum`: tfjs's
 * own sums over N, H and W by transposing first).
 */
export const channelBias = tf.customGrad<Tensor4D>((...args: unknown[]) => {
  const [x, b] = args as [Tensor4D, Tensor1D];
  return {
    value: tf.add<Tensor4D>(x, b),
    gradFunc: (dy: Tensor | Tensor[]) => [dy as Tensor4D, channelSum(dy as Tensor4D)],
  };
}) as (x: Tensor4D, b: Tensor) => Tensor4D;

/** Pads (positive) or crops (negative) each side of the two spatial axes. */
function cropPad(x: Tensor4D, top: number, bottom: number, left: number, right: number): Tensor4D {
  let y = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = y.shape;
    const t = Math.max(0, -top);
    const l = Math.max(0, -left);
    y = tf.slice(y, [0, t, l, 0], [n, h - t - Math.max(0, -bottom), w - l - Math.max(0, -right), c]);
  }
  if (top > 0 || bottom > 0 || left > 0 || right > 0)
    y = tf.pad(y, [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ]);
  return y;
}

/**
 * A stride-1 "valid" convolution of `x` padded (positive) or cropped (negative) on each side;
 * the padding is the convolution's own (explicit), not a padded copy.
 */
function convCropPad(x: Tensor4D, top: number, bottom: number, left: number, right: number, f: Tensor4D): Tensor4D {
  const cropped = cropPad(x, Math.min(0, top), Math.min(0, bottom), Math.min(0, left), Math.min(0, right));
  const pads: Pads = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return tf.conv2d(cropped, f, 1, pads.some(([u, v]) => u > 0 || v > 0) ? pads : 'valid');
}

/**
 * Taps of a kernel chosen and reordered: the kernel with in/out swapped, as [k², Cout·Cin] rows
 * (one per tap y·k + x), its rows `taps` copied out (Slice, a copy on every backend) and stacked
 * (Concat). Gives [rows, cols, Cout, Cin]. tfjs's Reverse, Gather and StridedSlice run element by
 * element on wasm (a 3x3x512x512 kernel: ~0.3 s for Reverse, ~0.5 s for a strided slice), and a
 * 0/1 picking product packs the whole kernel as XNNPACK weights first (~10 ms at 512x512 against
 * ~3 ms for the copies, CPU time on wasm).
 */
function pickTaps(swapped: Tensor2D, k: number, rows: number[], cols: number[], cout: number, cin: number): Tensor4D {
  const picked = rows.flatMap((ty) => cols.map((tx) => tf.slice(swapped, [ty * k + tx, 0], [1, cout * cin])));
  return tf.reshape<tf.Rank.R4>(picked.length === 1 ? picked[0] : tf.concat(picked, 0), [
    rows.length,
    cols.length,
    cout,
    cin,
  ]);
}

/** [k, k, Cin, Cout] → [k², Cout·Cin]: the kernel with in/out swapped, one row per tap. */
function swapInOut(w: Tensor4D): Tensor2D {
  const [k, , cin, cout] = w.shape;
  return tf.reshape(tf.transpose(w, [0, 1, 3, 2]), [k * k, cout * cin]);
}

/** The kernel flipped spatially with in/out swapped: F[y, x] = W[k−1−y, k−1−x]ᵀ, [k, k, Cout, Cin]. */
function flipSwap(w: Tensor4D): Tensor4D {
  const [k, , cin, cout] = w.shape;
  const rev = Array.from({ length: k }, (_, i) => k - 1 - i);
  return pickTaps(swapInOut(w), k, rev, rev, cout, cin);
}

/**
 * The input gradient of a strided convolution as forward convolutions, by phase: the input
 * positions with the same remainder mod s (s² phases) each receive a fixed subset of the kernel's
 * taps, so each phase is one stride-1 convolution of dy with those taps of the flipped,
 * in/out-swapped kernel (chosen by pickTaps), and the phases are interleaved back.
 * The work equals the forward's; tfjs's Conv2DBackpropInput is ~20x slower on wasm, and
 * spreading dy with zeros ~8x (measured at batch 32, 16x16x64 → 8x8x128).
 */
function stridedInputGrad(dy: Tensor4D, w: Tensor4D, g: ConvGeometry, inH: number, inW: number): Tensor4D {
  const { kernel: k, stride: s, pad: p } = g;
  const [n, oh, ow] = dy.shape;
  const [, , cin, cout] = w.shape;
  const swapped = swapInOut(w);
  // Phase r (along one axis): the taps t ≡ r + p (mod s) reach input i = m·s + r from output
  // m + c, c = (r + p − t)/s; listed by increasing c (decreasing t), from c = cMin.
  const phase = (r: number): { taps: number[]; count: number; cMin: number } => {
    const taps: number[] = [];
    for (let t = k - 1; t >= 0; t--) if ((((r + p - t) % s) + s) % s === 0) taps.push(t);
    return { taps, count: taps.length, cMin: taps.length ? (r + p - taps[0]) / s : 0 };
  };
  const mh = Math.ceil(inH / s);
  const mw = Math.ceil(inW / s);
  const rows: Tensor4D[][] = [];
  for (let ry = 0; ry < s; ry++) {
    const row: Tensor4D[] = [];
    const py = phase(ry);
    for (let rx = 0; rx < s; rx++) {
      const px = phase(rx);
      if (!py.count || !px.count) {
        row.push(tf.zeros([n, mh, mw, cin]));
        continue;
      }
      // out[m] = Σ_j dy[m + cMin + j] · sub[j]: dy rows m + cMin … m + cMin + count − 1 for m in [0, mh).
      const sub = pickTaps(swapped, k, py.taps, px.taps, cout, cin);
      row.push(
        convCropPad(dy, -py.cMin, mh + py.cMin + py.count - 1 - oh, -px.cMin, mw + px.cMin + px.count - 1 - ow, sub),
      );
    }
    rows.push(row);
  }
  // [n, mh, s, mw, s, cin] → [n, mh·s, mw·s, cin], cropped to the input.
  const woven = tf.reshape<tf.Rank.R4>(
    tf.stack(
      rows.map((row) => tf.stack(row, 3)),
      2,
    ),
    [n, mh * s, mw * s, cin],
  );
  return mh * s === inH && mw * s === inW ? woven : tf.slice(woven, [0, 0, 0, 0], [n, inH, inW, cin]);
}

/**
 * A k×k convolution with PyTorch's stride and zero padding and no bias, with hand-written
 * gradients made of forward convolutions only (wasm has no Conv2DBackpropFilter, and its
 * Conv2DBackpropInput is slow):
 * - dx: stride 1, a convolution of dy with the kernel flipped and in/out swapped; strided, by
 *   phase (stridedInputGrad);
 * - dW: the padded input transposed to [Cin, H, W, N] convolved with dy transposed to
 *   [oh, ow, N, Cout] dilated by the stride, cropped to k×k, giving [k, k, Cin, Cout].
 * `w` is HWIO [k, k, Cin, Cout]. With `inputIsData` the input gradient is not computed.
 */
function makeConv(g: ConvGeometry, inputIsData: boolean) {
  const { kernel: k, stride: s, pad: p } = g;
  const pads: Pads = [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ];
  return tf.customGrad<Tensor4D>((...args: unknown[]) => {
    const [x, w, save] = args as [Tensor4D, Tensor4D, (ts: Tensor[]) => void];
    save([x, w]);
    return {
      value: tf.conv2d(x, w, s, p ? pads : 'valid'),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.tidy(() => {
          const gy = dy as Tensor4D;
          const [xs, ws] = saved as [Tensor4D, Tensor4D];
          const [, h, wd] = xs.shape;
          if (onnxruntimeKernels(tf)) return ortConvGrads(xs, ws, gy, s, p ? pads : 'valid', inputIsData);
          let dx: Tensor4D;
          if (inputIsData) dx = tf.zerosLike(xs);
          else if (s === 1) dx = convCropPad(gy, k - 1 - p, k - 1 - p, k - 1 - p, k - 1 - p, flipSwap(ws));
          else dx = stridedInputGrad(gy, ws, g, h, wd);
          const xt = tf.transpose<Tensor4D>(xs, [3, 1, 2, 0]);
          const dyt = tf.transpose<Tensor4D>(gy, [1, 2, 0, 3]);
          let dw = tf.conv2d(xt, dyt, 1, p ? pads : 'valid', 'NHWC', s);
          if (dw.shape[1] !== k || dw.shape[2] !== k) dw = tf.slice(dw, [0, 0, 0, 0], [dw.shape[0], k, k, dw.shape[3]]);
          return [dx, tf.transpose(dw, [1, 2, 0, 3])];
        }),
    };
  }) as (x: Tensor4D, w: Tensor4D) => Tensor4D;
}

/** y = x W (no bias) with plain-product gradients (the weight's by `transposedProduct`). */
const matMulPlain = tf.customGrad<Tensor2D>((...args: unknown[]) => {
  const [x, w, save] = args as [Tensor2D, Tensor2D, (ts: Tensor[]) => void];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
      tf.tidy(() => {
        const g = dy as Tensor2D;
        const [xs, ws] = saved as [Tensor2D, Tensor2D];
        return [matMulT(g, ws), transposedProduct(xs, g)];
      }),
  };
}) as (x: Tensor2D, w: Tensor2D) => Tensor2D;

const convCache = new Map<string, (x: Tensor4D, w: Tensor4D) => Tensor4D>();

/**
 * A convolution as PyTorch's `nn.Conv2d(bias=False)` computes it (cross-correlation, stride,
 * zero padding), on NHWC inputs with an HWIO kernel, on the fast paths: a 1×1 convolution is a
 * product ([N·H·W, Cin] × [Cin, Cout], after subsampling when strided), a k×k one uses the
 * forward-convolution gradients of `makeConv`.
 */
export function conv2d(x: Tensor4D, w: Tensor4D, g: ConvGeometry, inputIsData = false): Tensor4D {
  // A strided 1×1 convolution on onnxruntime (onnxruntimeKernels) is makeConv's: its columns one
  // strided Gather, its input gradient col2im; the pool below and its gradient were three wasm
  // passes (ResNet-18's downsampling at batch 32 on 64², AvgPoolGrad ~1.4 ms each).
  if (g.kernel === 1 && g.pad === 0 && (g.stride === 1 || !onnxruntimeKernels(tf))) {
    // x[:, ::s, ::s, :] as a 1×1 average pool: its gradient (AvgPoolGrad) is a wasm kernel, and a
    // strided slice runs element by element there.
    const xs = g.stride > 1 ? tf.avgPool(x, 1, g.stride, 'valid') : x;
    const [n, h, wd, c] = xs.shape;
    const cout = w.shape[3];
    return tf.reshape(matMulPlain(tf.reshape(xs, [n * h * wd, c]), tf.reshape(w, [c, cout])), [n, h, wd, cout]);
  }
  const key = `${g.kernel}/${g.stride}/${g.pad}/${inputIsData}`;
  let f = convCache.get(key);
  if (!f) convCache.set(key, (f = makeConv(g, inputIsData)));
  return f(x, w);
}
