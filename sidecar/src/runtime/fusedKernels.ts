/**
 * Fused kernels for the wasm backend, each one pass over its data in the backend's own memory
 * (fused/kernels.wat, WebAssembly SIMD, instantiated on that memory): a training BatchNorm's
 * statistics, normalisation, gradients and running averages (their per-channel arithmetic in
 * JavaScript on the same memory), the affine map's gradient sums, ReLU's gradient, Adam's update,
 * the max-pool gradient, and Sum and Mean over leading axes.
 *
 * Why: on the wasm backend every tfjs op is one pass over its operands on one thread, and
 * BatchNorm as ops was ~24 passes of its input per training step (sub, square, mul, add, the
 * gradient's five products and sums), Adam ~15 of every parameter. The memory traffic, not the
 * arithmetic, was the cost: ResNet-18 at batch 32 on 64² inputs spent ~60 ms of its step in
 * BatchNorm's passes and 68 ms in Adam. The arithmetic is the ops' own, in float32 and in the
 * same order (kernels.wat), so results match the ops' to the bit except for the order in which
 * the per-channel sums add their terms.
 *
 * Used where `fusedKernelsReady` says: the wasm backend's one-thread build (the threaded build's
 * memory is shared and these kernels are not built for it), `AFT_WASM_FUSED=0` not set, float32
 * tensors, channel counts that are multiples of 4. Everything else keeps the ops.
 */
import { KERNELS_WASM_BASE64 } from './fused/kernels.wasm';
import { maxPoolGradCall, replaceWasmKernel } from './wasmKernels';
import type { tf as Tf } from './tf';

type TfModule = typeof Tf;

/** The part of the WebAssembly API used here (the sidecar compiles without the DOM's types). */
declare const WebAssembly: {
  Memory: new (...args: never[]) => { buffer: ArrayBuffer | SharedArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
};

/** What the wasm backend offers (tfjs-backend-wasm's BackendWasm). */
interface WasmBackend {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: Tf.DataType): Tf.TensorInfo;
  /** A view of a tensor's data in the module's memory (taken after every allocation: growth detaches it). */
  typedArrayFromHeap(t: Tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** kernels.wat's exports; pointers are byte offsets into the backend's memory. */
interface Fused {
  bnApply(x: number, y: number, rows: number, ch: number, mean: number, a: number, beta: number): void;
  bnGradInput(
    g: number,
    x: number,
    dx: number,
    rows: number,
    ch: number,
    mean: number,
    a: number,
    b: number,
    k: number,
  ): void;
  bnSums(
    x: number,
    g: number,
    rows: number,
    ch: number,
    mean: number,
    sq: number,
    gs: number,
    gxs: number,
    part: number,
  ): void;
  colSums(x: number, rows: number, ch: number, out: number, part: number, divisor: number): void;
  reluGrad(dy: number, x: number, dx: number, n: number): void;
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    ch: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
  ): void;
  adam(
    g: number,
    m: number,
    v: number,
    p: number,
    m2: number,
    v2: number,
    p2: number,
    n: number,
    b1: number,
    nb1: number,
    b2: number,
    nb2: number,
    c2: number,
    step: number,
    eps: number,
    lrwd: number,
  ): void;
}

/** Calls of each fused kernel, for tests. */
export const fusedCalls = new Map<string, number>();
const counted = (name: string): void => void fusedCalls.set(name, (fusedCalls.get(name) ?? 0) + 1);

let wasmModule: object | undefined;
const instances = new WeakMap<object, Fused | null>();

/** The kernels on this backend's memory, instantiated on first use; null where they cannot run. */
function fusedOn(backend: WasmBackend): Fused | null {
  let f = instances.get(backend);
  if (f !== undefined) return f;
  f = null;
  const memory = backend.wasm?.asm?.memory;
  if (
    process.env.AFT_WASM_FUSED !== '0' &&
    memory instanceof WebAssembly.Memory &&
    !(memory.buffer instanceof SharedArrayBuffer)
  ) {
    wasmModule ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    f = new WebAssembly.Instance(wasmModule, { env: { memory } }).exports as unknown as Fused;
  }
  instances.set(backend, f);
  return f;
}

/** Whether the active backend runs this module's kernels (see the module's comment). */
export function fusedKernelsReady(tf: TfModule): boolean {
  return tf.getBackend() === 'wasm' && fusedOn(tf.backend() as unknown as WasmBackend) !== null;
}

/** Whether BatchNorm over `channels` channels can use the fused kernels. */
export function fusedBatchNormReady(tf: TfModule, channels: number): boolean {
  return channels % 4 === 0 && fusedKernelsReady(tf);
}

export const BN_APPLY = 'AftBnApply';
export const BN_STATS = 'AftBnStats';
export const BN_GRAD = 'AftBnGrad';
export const BN_GRAD_SUMS = 'AftBnGradSums';
export const BN_RUNNING = 'AftBnRunning';
export const RELU_GRAD = 'AftReluGrad';
export const ADAM = 'AftAdam';

type Args = Parameters<Tf.KernelFunc>[0];

function context(args: Args): { backend: WasmBackend; fused: Fused; at: (t: Tf.TensorInfo) => number } {
  const backend = args.backend as unknown as WasmBackend;
  const fused = fusedOn(backend);
  if (!fused) throw new Error('internal error: a fused kernel ran where fusedKernelsReady is false');
  const at = (t: Tf.TensorInfo): number => {
    if (t.dtype !== 'float32') throw new Error(`internal error: a fused kernel got a ${t.dtype} tensor`);
    return backend.dataIdMap.get(t.dataId)!.memoryOffset;
  };
  return { backend, fused, at };
}

/** Runs `f` with `floats` floats of scratch in the backend's memory, freed after. */
function withScratch<T>(backend: WasmBackend, floats: number, f: (scratch: Tf.TensorInfo) => T): T {
  const scratch = backend.makeOutput([floats], 'float32');
  try {
    return f(scratch);
  } finally {
    backend.disposeData(scratch.dataId, true);
  }
}

/** [rows, channels] of an NHWC tensor: channels last, every other axis a row. */
function rowsOf(x: Tf.TensorInfo): [number, number] {
  const ch = x.shape[x.shape.length - 1];
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (ch % 4 !== 0) throw new Error(`internal error: fused BatchNorm kernels need channels in fours, got ${ch}`);
  return [size / ch, ch];
}

/** y = (x − mean)·a + beta per channel (inputs x, mean, a, beta). */
function bnApply(args: Args): Tf.TensorInfo {
  const { x, mean, a, beta } = args.inputs as Record<string, Tf.TensorInfo>;
  const { backend, fused, at } = context(args);
  const [rows, ch] = rowsOf(x);
  const y = backend.makeOutput(x.shape, 'float32');
  fused.bnApply(at(x), at(y), rows, ch, at(mean), at(a), at(beta));
  return y;
}

/** Float32 views of tensors' data (after every allocation: growing the memory detaches them). */
const viewsOf = (backend: WasmBackend, ts: Tf.TensorInfo[]): Float32Array[] =>
  ts.map((t) => backend.typedArrayFromHeap(t) as Float32Array);

/**
 * A training BatchNorm's batch statistics (inputs x, gamma; attrs eps): [mean, variance (biased),
 * invStd = 1/√(variance + ε), a = invStd·γ] per channel, in two passes over x. The per-channel
 * arithmetic is the ops' (variance = Σ(x − mean)²/M, then + ε, √, 1/·, ·γ), each step rounded
 * to float32 (Math.fround of a double result is float32's correctly rounded one): as ops these
 * were seven tfjs kernels and an onnxruntime call per BatchNorm, ~20 µs each.
 */
function bnStats(args: Args): Tf.TensorInfo[] {
  const { x, gamma } = args.inputs as Record<string, Tf.TensorInfo>;
  const { eps } = args.attrs as unknown as { eps: number };
  const { backend, fused, at } = context(args);
  const [rows, ch] = rowsOf(x);
  const [mean, variance, invStd, a] = [0, 1, 2, 3].map(() => backend.makeOutput([ch], 'float32'));
  withScratch(backend, 3 * ch, (part) => {
    fused.colSums(at(x), rows, ch, at(mean), at(part), rows);
    fused.bnSums(at(x), 0, rows, ch, at(mean), at(variance), 0, 0, at(part));
  });
  const [v, inv, av, g] = viewsOf(backend, [variance, invStd, a, gamma]);
  const e = Math.fround(eps);
  for (let c = 0; c < ch; c++) {
    v[c] = v[c] / rows;
    inv[c] = 1 / Math.fround(Math.sqrt(Math.fround(v[c] + e)));
    av[c] = inv[c] * g[c];
  }
  return [mean, variance, invStd, a];
}

/**
 * A training BatchNorm's gradients (inputs dy, x, mean, invStd, gamma): [dx, dγ, dβ]. With
 * xc = x − mean, M rows: dβ = Σdy, dγ = Σ(dy·xc)·invStd, and dx = dy·a + xc·b + k with a = γ·invStd,
 * b = −a·Σ(dy·xc)·invStd²/M, k = −a·dβ/M: one pass for the sums, the per-channel coefficients
 * (as the ops computed them, float32 step by step), one pass for dx.
 */
function bnGrad(args: Args): Tf.TensorInfo[] {
  const { dy, x, mean, invStd, gamma } = args.inputs as Record<string, Tf.TensorInfo>;
  const { backend, fused, at } = context(args);
  const [rows, ch] = rowsOf(x);
  const dx = backend.makeOutput(x.shape, 'float32');
  const dGamma = backend.makeOutput([ch], 'float32');
  const dBeta = backend.makeOutput([ch], 'float32');
  // Scratch: the sums' partial blocks (3·ch), then Σ(dy·xc), a, b, k.
  withScratch(backend, 7 * ch, (scratch) => {
    const s = at(scratch);
    const [gxsAt, aAt, bAt, kAt] = [3, 4, 5, 6].map((i) => s + 4 * i * ch);
    fused.bnSums(at(x), at(dy), rows, ch, at(mean), 0, at(dBeta), gxsAt, s);
    const [all] = viewsOf(backend, [scratch]);
    const [gxs, av, bv, kv] = [3, 4, 5, 6].map((i) => all.subarray(i * ch, (i + 1) * ch));
    const [inv, gam, dg, db] = viewsOf(backend, [invStd, gamma, dGamma, dBeta]);
    for (let c = 0; c < ch; c++) {
      av[c] = gam[c] * inv[c];
      const negA = -av[c];
      bv[c] = negA * Math.fround(Math.fround(gxs[c] * Math.fround(inv[c] * inv[c])) / rows);
      kv[c] = negA * Math.fround(db[c] / rows);
      dg[c] = gxs[c] * inv[c];
    }
    fused.bnGradInput(at(dy), at(x), at(dx), rows, ch, at(mean), aAt, bAt, kAt);
  });
  return [dx, dGamma, dBeta];
}

/**
 * The running statistics' update (inputs runningMean, runningVar, mean, variance; attrs keep,
 * meanRate, varRate): [r·keep + mean·meanRate, v·keep + variance·varRate] per channel, as the
 * ops computed them (float32, product by product).
 */
function bnRunning(args: Args): Tf.TensorInfo[] {
  const { runningMean, runningVar, mean, variance } = args.inputs as Record<string, Tf.TensorInfo>;
  const { keep, meanRate, varRate } = args.attrs as unknown as Record<string, number>;
  const { backend } = context(args);
  const ch = mean.shape[0];
  const [m2, v2] = [0, 1].map(() => backend.makeOutput([ch], 'float32'));
  const [rm, rv, mu, va, om, ov] = viewsOf(backend, [runningMean, runningVar, mean, variance, m2, v2]);
  const [k, mr, vr] = [keep, meanRate, varRate].map(Math.fround);
  for (let c = 0; c < ch; c++) {
    om[c] = Math.fround(rm[c] * k) + Math.fround(mu[c] * mr);
    ov[c] = Math.fround(rv[c] * k) + Math.fround(va[c] * vr);
  }
  return [m2, v2];
}

/** Per-channel sums [Σ dy, Σ dy·(x − mean)] (inputs dy, x, mean): the affine map's gradient. */
function bnGradSums(args: Args): Tf.TensorInfo[] {
  const { x, mean, dy } = args.inputs as Record<string, Tf.TensorInfo>;
  const { backend, fused, at } = context(args);
  const [rows, ch] = rowsOf(x);
  return withScratch(backend, 3 * ch, (part) => {
    const gs = backend.makeOutput([ch], 'float32');
    const gxs = backend.makeOutput([ch], 'float32');
    fused.bnSums(at(x), at(dy), rows, ch, at(mean), 0, at(gs), at(gxs), at(part));
    return [gs, gxs];
  });
}

/** ReLU's gradient (inputs dy, x; sizes a multiple of 4): dy where x > 0, else 0. */
function reluGrad(args: Args): Tf.TensorInfo {
  const { dy, x } = args.inputs as Record<string, Tf.TensorInfo>;
  const { backend, fused, at } = context(args);
  const n = x.shape.reduce((p, q) => p * q, 1);
  if (n % 4 !== 0) throw new Error(`internal error: the fused ReLU gradient needs sizes in fours, got ${n}`);
  const dx = backend.makeOutput(x.shape, 'float32');
  fused.reluGrad(at(dy), at(x), at(dx), n);
  return dx;
}

/**
 * ReLU's gradient, dy where x > 0, else 0 (x: ReLU's input, or its output: positive at the same
 * places). On the wasm backend one fused pass where tfjs's own gradient was three (step, cast,
 * product): ResNet-18's 17 ReLUs at batch 32 on 64², ~4 ms of the step. Elsewhere the ops.
 */
export function reluGradient<T extends Tf.Tensor>(tf: TfModule, dy: T, x: T): T {
  if (x.dtype === 'float32' && x.size % 4 === 0 && fusedKernelsReady(tf))
    return tf.engine().runKernel<T>(RELU_GRAD, { dy, x }, {});
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}

/**
 * Adam's update of one run of parameters (optimizer.ts): inputs m and v (the run's flat state)
 * and g0…, p0… (each parameter's gradient and value); attrs the step's scalars. Outputs m', v',
 * then each parameter's new value.
 */
function adam(args: Args): Tf.TensorInfo[] {
  const { backend, fused, at } = context(args);
  const inputs = args.inputs as Record<string, Tf.TensorInfo>;
  const a = args.attrs as unknown as AdamAttrs;
  const { m, v } = inputs;
  const m2 = backend.makeOutput(m.shape, 'float32');
  const v2 = backend.makeOutput(v.shape, 'float32');
  const outs = [m2, v2];
  // Byte offsets (unchanged when the memory grows), looked up once for the run.
  const [mAt, vAt, m2At, v2At] = [at(m), at(v), at(m2), at(v2)];
  let o = 0;
  for (let i = 0; i < a.count; i++) {
    const p = inputs[`p${i}`];
    const p2 = backend.makeOutput(p.shape, 'float32');
    const n = p.shape.reduce((x, y) => x * y, 1);
    fused.adam(
      at(inputs[`g${i}`]),
      mAt + o,
      vAt + o,
      at(p),
      m2At + o,
      v2At + o,
      at(p2),
      n,
      a.b1,
      a.nb1,
      a.b2,
      a.nb2,
      a.c2,
      a.step,
      a.eps,
      a.lrwd,
    );
    outs.push(p2);
    o += 4 * n;
  }
  return outs;
}

/** Adam's scalars for one step (as float32 in the kernel, as tfjs makes scalars of numbers). */
export interface AdamAttrs {
  count: number;
  b1: number;
  nb1: number;
  b2: number;
  nb2: number;
  c2: number;
  step: number;
  eps: number;
  lrwd: number;
}

/**
 * MaxPoolGrad (NHWC, float32, channels in fours) as one kernel: each window searched once per 4
 * channels, dy added at its first maximum (kernels.wat). Measured, ResNet-18's 3×3 stride-2 pool
 * of [32, 32, 32, 64] at batch 32: ~19 ms on onnxruntime (MaxPool's indices, a scatter and three
 * transposes), 27 ms in JavaScript, 2.7 ms here (4.3–7 before its window walked by pointer
 * increments). Other calls keep `original`.
 */
function fusedMaxPoolGrad(tf: TfModule, original: Tf.KernelFunc): Tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackend;
    const call = maxPoolGradCall(tf, args);
    if (!call || call.input.shape[3] % 4 !== 0 || !fusedOn(backend)) return original(args);
    const { fused, at } = context(args);
    const { dy, input, info: c } = call;
    const [n, h, w, ch] = input.shape;
    const dx = backend.makeOutput(input.shape, 'float32');
    counted('MaxPoolGrad');
    fused.maxPoolGrad(
      at(input),
      at(dy),
      at(dx),
      n,
      h,
      w,
      ch,
      c.outHeight,
      c.outWidth,
      c.filterHeight,
      c.filterWidth,
      c.strideHeight,
      c.strideWidth,
      c.padInfo.top,
      c.padInfo.left,
    );
    return dx;
  };
}

/**
 * Sum and Mean over the leading axes of a float32 tensor whose trailing size is a multiple of 4
 * (bias and LayerNorm gradients: Σ over the batch) as one pass down the columns. tfjs-backend-wasm
 * reduces only its innermost axes, so it transposed the tensor first: the demo MLP's AFT step
 * spent ~1.5 ms of its ~4 in 24 such sums and means and their transposes. Other calls keep
 * `original`.
 */
function fusedLeadingReduce(tf: TfModule, mean: boolean, original: Tf.KernelFunc): Tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackend;
    const { x } = args.inputs as { x: Tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as Tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const lead = axes.length;
    const leading = lead > 0 && lead < rank && axes.every((a, i) => a === i);
    const rest = x.shape.slice(lead);
    const ch = rest.reduce((a, b) => a * b, 1);
    if (!leading || x.dtype !== 'float32' || ch % 4 !== 0 || ch === 0 || !fusedOn(backend)) return original(args);
    const { fused, at } = context(args);
    const rows = x.shape.slice(0, lead).reduce((a, b) => a * b, 1);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...rest] : rest, 'float32');
    counted(mean ? 'Mean' : 'Sum');
    withScratch(backend, ch, (part) => fused.colSums(at(x), rows, ch, at(out), at(part), mean ? rows : 1));
    return out;
  };
}

/**
 * Registers the kernels on the wasm backend (once; they run only where `fusedKernelsReady`), and
 * the fused MaxPoolGrad over the one registered: called after every other wasm kernel change.
 */
export function registerFusedKernels(tf: TfModule): void {
  const kernels: [string, Tf.KernelFunc][] = [
    [BN_APPLY, bnApply],
    [BN_STATS, bnStats],
    [BN_GRAD, bnGrad],
    [BN_GRAD_SUMS, bnGradSums],
    [BN_RUNNING, bnRunning],
    [RELU_GRAD, reluGrad],
    [ADAM, adam],
  ];
  for (const [kernelName, run] of kernels) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    const kernelFunc: Tf.KernelFunc = (args) => {
      counted(kernelName);
      return run(args);
    };
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
  // Over whatever is registered by now (wasmKernels.ts's MaxPoolGrad, onnxruntime's), once.
  replaceWasmKernel(tf, 'MaxPoolGrad', (original) => fusedMaxPoolGrad(tf, original), fusedLayer);
  replaceWasmKernel(tf, 'Sum', (original) => fusedLeadingReduce(tf, false, original), fusedLayer);
  replaceWasmKernel(tf, 'Mean', (original) => fusedLeadingReduce(tf, true, original), fusedLayer);
}

const fusedLayer = Symbol('aft.fused');
