/**
 * Repairs of four tfjs-backend-wasm 4.22 kernels that a training step calls often, measured on
 * the CNN's step (batch 128, 2 threads; `npm run bench:train`):
 *
 * - Identity copies its input. tfjs-core clones every tensor it saves for a gradient (each
 *   kernel's saved inputs and outputs, each `customGrad`'s saved tensors) through Identity, so a
 *   step copied every activation it kept: three copies of the first conv block's
 *   [128, 28, 28, 16] output, ~1.5 ms. Tensors are immutable (a variable's `assign` swaps its data,
 *   never writes into it), so the clone shares the data, as tfjs-backend-cpu's Identity and every
 *   backend's Reshape do.
 * - Slice copied its whole input out of the module's memory (`readSync`) before copying the
 *   slice: slicing 6 parameters out of the optimiser's flat update copied it 6 times, 8% of the
 *   demo MLP's step. Here the slice is copied straight from the module's memory.
 * - MaxPoolGrad searched each window again for every input element it could reach: 22 ms for the
 *   2×2 pool of [128, 28, 28, 16], a fifth of the step. Here each window is searched once and its
 *   gradient added at its first maximum (tfjs-backend-cpu's and PyTorch's choice among ties),
 *   on the module's memory: ~1-2 ms.
 * - BatchMatMul runs on XNNPACK only for one matrix of each operand with neither transposed;
 *   anything else (a batch, a transposed flag) took a scalar triple loop: ViT-Tiny's attention
 *   products ([16, 3, 197, 197] × [16, 3, 197, 64]) were ~70% of its step at a few GFLOP/s. Here
 *   transposed operands are transposed first, a batch of matrices times one matrix is one product
 *   of the stacked rows, and a batch times a batch is one XNNPACK product per matrix.
 */
import type { tf as Tf } from './tf';

type TfModule = typeof Tf;

/** What the wasm backend offers its kernels (tfjs-backend-wasm's BackendWasm). */
interface WasmBackend {
  incRef(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: Tf.DataType): Tf.TensorInfo;
  typedArrayFromHeap(info: Tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

const repaired = Symbol('aft.wasmRepaired');

/**
 * Replaces the wasm backend's kernel `name` with `make(original)`, once per `layer`: each layer of
 * kernels (these repairs, ortKernels.ts's onnxruntime routing, fusedKernels.ts) wraps whatever
 * the layer before registered, and a second call of the same layer (a backend set up again)
 * leaves its wrapper as it is.
 */
export function replaceWasmKernel(
  tf: TfModule,
  name: string,
  make: (original: Tf.KernelFunc) => Tf.KernelFunc,
  layer: symbol = repaired,
): void {
  const original = tf.getKernel(name, 'wasm');
  if (!original) throw new Error(`tfjs-backend-wasm has no ${name} kernel`);
  if ((original.kernelFunc as unknown as Record<symbol, boolean | undefined>)[layer]) return;
  const kernelFunc = Object.assign(make(original.kernelFunc), { [layer]: true });
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...original, kernelFunc });
}

/** The Identity that shares its input's data. */
function sharedIdentity(original: Tf.KernelFunc): Tf.KernelFunc {
  return (args) => {
    const x = (args.inputs as { x: Tf.TensorInfo }).x;
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * dx of a max pool (NHWC): every window searched once, dy added at its first maximum in
 * row-major order (a strict `>`, so a NaN or an all −∞ window passes no gradient, as on
 * tfjs-backend-cpu). Windows may overlap (ResNet's 3×3 stride-2 pool), hence the sum.
 */
export function maxPoolGradInto(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: Tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  dx.fill(0);
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0) {
    maxPool2x2GradInto(x, dy, dx, batchSize, h, w, c, oh, ow);
    return;
  }
  // Per window, the offsets of its taps inside the input (row-major order, padding left out),
  // then per channel the taps compared in a register: ~4× faster than keeping a per-channel best.
  const taps = new Int32Array(fh * fw);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        let nt = 0;
        for (let ky = 0; ky < fh; ky++) {
          const iy = y0 + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < fw; kx++) {
            const ix = x0 + kx;
            if (ix >= 0 && ix < w) taps[nt++] = ((b * h + iy) * w + ix) * c;
          }
        }
        const out = ((b * oh + oy) * ow + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let t = 0; t < nt; t++) {
            const q = taps[t] + ch;
            const v = x[q];
            if (v > best) {
              best = v;
              at = q;
            }
          }
          if (at >= 0) dx[at] += dy[out + ch];
        }
      }
    }
  }
}

/** The CNN's 2×2 stride-2 pool, its four candidates compared in registers (same choice as above). */
function maxPool2x2GradInto(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  batchSize: number,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
): void {
  const row = w * c;
  let out = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < oh; oy++) {
      let p = (b * h + 2 * oy) * row;
      for (let ox = 0; ox < ow; ox++, p += 2 * c) {
        for (let ch = 0; ch < c; ch++, out++) {
          // Strict `>` from −∞: the first maximum, and no gradient from an all-NaN or all −∞ window.
          // (Branchless variants measured no faster: ~4 ns an element on real activations.)
          let at = -1;
          let best = -Infinity;
          let q = p + ch;
          if (x[q] > best) {
            best = x[q];
            at = q;
          }
          q += c;
          if (x[q] > best) {
            best = x[q];
            at = q;
          }
          q = p + row + ch;
          if (x[q] > best) {
            best = x[q];
            at = q;
          }
          q += c;
          if (x[q] > best) at = q;
          if (at >= 0) dx[at] = dy[out];
        }
      }
    }
  }
}

/** A MaxPoolGrad call's operands and window geometry, or undefined unless both are float32. */
export function maxPoolGradCall(
  tf: TfModule,
  args: Parameters<Tf.KernelFunc>[0],
): { dy: Tf.TensorInfo; input: Tf.TensorInfo; info: Tf.backend_util.Conv2DInfo } | undefined {
  const { dy, input } = args.inputs as { dy: Tf.TensorInfo; input: Tf.TensorInfo };
  const attrs = args.attrs as unknown as Tf.MaxPoolGradAttrs;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
  const shape = input.shape as [number, number, number, number];
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  return { dy, input, info: tf.backend_util.computePool2DInfo(shape, filterSize, strides, 1, pad, dimRoundingMode) };
}

function fastMaxPoolGrad(tf: TfModule, original: Tf.KernelFunc): Tf.KernelFunc {
  return (args) => {
    const call = maxPoolGradCall(tf, args);
    if (!call) return original(args);
    const { dy, input, info } = call;
    const backend = args.backend as unknown as WasmBackend;
    // The output first: allocating can grow the module's memory, which detaches older views.
    const dx = backend.makeOutput(input.shape, 'float32');
    maxPoolGradInto(
      backend.typedArrayFromHeap(input) as Float32Array,
      backend.typedArrayFromHeap(dy) as Float32Array,
      backend.typedArrayFromHeap(dx) as Float32Array,
      info,
    );
    return dx;
  };
}

/**
 * x[begin : begin + size] of a row-major array of `shape` into `out`: the runs along the last axis
 * (whole trailing axes merged into them) copied one by one.
 */
export function sliceInto(
  x: Float32Array | Int32Array | Uint8Array,
  shape: number[],
  begin: number[],
  size: number[],
  out: Float32Array | Int32Array | Uint8Array,
): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  // The innermost axes that are taken whole, and the one before them, make one contiguous run.
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === shape[inner]) inner--;
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  const run = size[inner] * strides[inner];
  const count = size.slice(0, inner).reduce((a, b) => a * b, 1);
  const at = new Array<number>(inner).fill(0);
  for (let r = 0, o = 0; r < count; r++, o += run) {
    let from = begin[inner] * strides[inner];
    for (let d = 0; d < inner; d++) from += (begin[d] + at[d]) * strides[d];
    out.set(x.subarray(from, from + run), o);
    for (let d = inner - 1; d >= 0 && ++at[d] === size[d]; d--) at[d] = 0;
  }
}

function viewSlice(tf: TfModule, original: Tf.KernelFunc): Tf.KernelFunc {
  return (args) => {
    const x = (args.inputs as { x: Tf.TensorInfo }).x;
    if (x.dtype === 'string') return original(args);
    const { begin, size } = args.attrs as unknown as Tf.SliceAttrs;
    const [b, n] = tf.slice_util.parseSliceParams(x, begin, size);
    const backend = args.backend as unknown as WasmBackend;
    const out = backend.makeOutput(n, x.dtype);
    if (n.every((d) => d > 0)) sliceInto(backend.typedArrayFromHeap(x), x.shape, b, n, backend.typedArrayFromHeap(out));
    return out;
  };
}

/**
 * a·b (tfjs's BatchMatMul: batches of matrices, either operand transposed) on XNNPACK's product
 * of one matrix by one matrix, the only case the wasm kernel runs fast (`fast`, the original
 * kernel given [1, m, k] and [1, k, n]). Batch broadcasting beyond "equal, or one of them 1" is
 * left to the original (tfjs's own ops never produce it here).
 */
function xnnBatchMatMul(tf: TfModule, original: Tf.KernelFunc): Tf.KernelFunc {
  const transpose = tf.getKernel('Transpose', 'wasm').kernelFunc;
  return (args) => {
    const { a, b } = args.inputs as { a: Tf.TensorInfo; b: Tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as Tf.BatchMatMulAttrs;
    const backend = args.backend as unknown as WasmBackend;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
    const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const broadcastable = batchA === batchB || batchA === 1 || batchB === 1;
    if (plain || !broadcastable || a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    // The operands as stacks of untransposed matrices: [batch, m, k] and [batch, k, n].
    const temps: Tf.TensorInfo[] = [];
    const untransposed = (t: Tf.TensorInfo, rank: number, flag: boolean): Tf.TensorInfo => {
      if (!flag) return t;
      const perm = t.shape.map((_, i) => i);
      [perm[rank - 1], perm[rank - 2]] = [perm[rank - 2], perm[rank - 1]];
      const out = transpose({ inputs: { x: t }, backend: args.backend, attrs: { perm } }) as Tf.TensorInfo;
      temps.push(out);
      return out;
    };
    const at = untransposed(a, ra, transposeA);
    const bt = untransposed(b, rb, transposeB);
    const [m, k] = at.shape.slice(-2);
    const n = bt.shape[rb - 1];
    const view = (t: Tf.TensorInfo, shape: number[]): Tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });
    const product = (x: Tf.TensorInfo, y: Tf.TensorInfo): Tf.TensorInfo =>
      original({
        inputs: { a: x, b: y },
        backend: args.backend,
        attrs: { transposeA: false, transposeB: false },
      }) as Tf.TensorInfo;
    let out: Tf.TensorInfo;
    if (batchB === 1) {
      // Every matrix of a times the same b: the rows of a stacked, one product.
      const y = product(view(at, [1, batchA * m, k]), view(bt, [1, k, n]));
      out = view(y, [...outBatch, m, n]);
    } else {
      out = backend.makeOutput([...outBatch, m, n], 'float32');
      const batch = Math.max(batchA, batchB);
      for (let i = 0; i < batch; i++) {
        // Each matrix copied out into a tensor of its own (allocating can grow the module's
        // memory, which detaches older views: every view is taken after the allocations).
        const ai = backend.makeOutput([1, m, k], 'float32');
        const bi = backend.makeOutput([1, k, n], 'float32');
        const ia = batchA === 1 ? 0 : i;
        (backend.typedArrayFromHeap(ai) as Float32Array).set(
          (backend.typedArrayFromHeap(at) as Float32Array).subarray(ia * m * k, (ia + 1) * m * k),
        );
        (backend.typedArrayFromHeap(bi) as Float32Array).set(
          (backend.typedArrayFromHeap(bt) as Float32Array).subarray(i * k * n, (i + 1) * k * n),
        );
        const yi = product(ai, bi);
        (backend.typedArrayFromHeap(out) as Float32Array).set(backend.typedArrayFromHeap(yi), i * m * n);
        for (const t of [ai, bi, yi]) backend.disposeData(t.dataId);
      }
    }
    for (const t of temps) backend.disposeData(t.dataId);
    return out;
  };
}

/** Installs the repairs (once; the wasm backend's kernels are registered when its package loads). */
export function repairWasmKernels(tf: TfModule): void {
  replaceWasmKernel(tf, 'Identity', sharedIdentity);
  replaceWasmKernel(tf, 'MaxPoolGrad', (original) => fastMaxPoolGrad(tf, original));
  replaceWasmKernel(tf, 'Slice', (original) => viewSlice(tf, original));
  replaceWasmKernel(tf, 'BatchMatMul', (original) => xnnBatchMatMul(tf, original));
}
