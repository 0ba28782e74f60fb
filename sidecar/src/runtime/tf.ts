/**
 * The only module that imports TensorFlow.js. Everything else gets `tf` from here, after
 * `initBackend` has picked a compute backend from the registry.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { GpuAdapterInfo } from '../../../core/common/protocol/rpc';
import { AftError, badInput } from '../../../core/common/util/errors';
import { ortProductsWanted, releaseOrtSessions, routeProductsToOrt } from './ortKernels';
import { registerFusedKernels } from './fusedKernels';
import { repairWasmKernels } from './wasmKernels';
import { startThreadedWasm, wasmThreadsWanted, type WasmBackendModule } from './wasmThreads';
import { adapterLine, requestAdapter } from './webgpu';

export { tf };
export type { GpuAdapterInfo };
export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor4D = tf.Tensor4D;
export type Scalar = tf.Scalar;
export type Variable = tf.Variable;

/**
 * A variable holding `init`'s values, `init` disposed. tf.variable(t) shares t's data and leaves
 * t alive: every training job leaked its initial weights, its optimizer state and ρ that way
 * (ResNet-18: 146 tensors, 128 MB a job, until the wasm heap ran out in a study).
 */
export function variableFrom(init: tf.Tensor, trainable = true, name?: string): tf.Variable {
  const v = tf.variable(init, trainable, name);
  init.dispose();
  return v;
}

/** What the user asks for; `auto` tries the registry in order. */
export type BackendChoice = 'auto' | 'gpu' | 'webgpu' | 'native' | 'wasm' | 'cpu';
export type BackendId = Exclude<BackendChoice, 'auto'>;

interface BackendCandidate {
  id: BackendId;
  /** Name of the backend inside tfjs once registered. */
  tfName: string;
  /** What this candidate is, for logs and the Compute view. */
  description: string;
  /**
   * Registers the backend with tfjs; throws with a reason when it cannot. `named`: the user asked
   * for this backend by name (not `auto`). May describe the GPU adapter it will run on.
   */
  register(named: boolean): Promise<{ adapter?: GpuAdapterInfo } | void>;
}

// Native modules are loaded with a computed name so that bundlers leave them alone: they are
// optional dependencies that may be missing (their install downloads libtensorflow).
const loadOptional = (name: string): unknown => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name) as unknown;
};

/**
 * The wasm backend once it has started: XNNPACK's threads (and why one if more were wanted), where
 * its products run, and onnxruntime's threads when they run there.
 */
const wasmThreads: { count: number; why?: string; products: string; ortThreads?: number } = {
  count: 1,
  products: 'XNNPACK',
};

/** Compute backends in the order `auto` tries them. */
export const BACKENDS: readonly BackendCandidate[] = [
  {
    id: 'gpu',
    tfName: 'tensorflow',
    description: '@tensorflow/tfjs-node-gpu (libtensorflow with CUDA)',
    register: async () => {
      try {
        loadOptional('@tensorflow/tfjs-node-gpu');
      } catch (e) {
        const missing = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /tfjs-node-gpu'/.test(firstLine(e));
        // The usual failure past a missing package is a CUDA or cuDNN library libtensorflow cannot load.
        throw new Error(
          missing
            ? '@tensorflow/tfjs-node-gpu is not installed (`aft gpu install`, or AFT: Install GPU Runtime)'
            : `${firstLine(e)} (\`aft gpu check\` says what it needs)`,
        );
      }
      await Promise.resolve();
    },
  },
  {
    id: 'webgpu',
    tfName: 'webgpu',
    description: '@tensorflow/tfjs-backend-webgpu on Dawn (the webgpu package: Vulkan, Metal or D3D12)',
    register: registerWebgpu,
  },
  {
    id: 'native',
    tfName: 'tensorflow',
    description: '@tensorflow/tfjs-node (libtensorflow, CPU)',
    register: async () => {
      loadOptional('@tensorflow/tfjs-node');
      await Promise.resolve();
    },
  },
  {
    id: 'wasm',
    tfName: 'wasm',
    get description() {
      return `@tensorflow/tfjs-backend-wasm (XNNPACK, SIMD, ${wasmThreads.count} thread${wasmThreads.count === 1 ? '' : 's'}${wasmThreads.why ? `: ${wasmThreads.why}` : ''}; products and convolutions on ${wasmThreads.products})`;
    },
    register: async () => {
      const wasm = loadOptional('@tensorflow/tfjs-backend-wasm') as WasmBackendModule;
      repairWasmKernels(tf);
      await startWasmCompute(wasm);
      registerFusedKernels(tf);
    },
  },
  {
    id: 'cpu',
    tfName: 'cpu',
    description: '@tensorflow/tfjs plain JavaScript CPU backend',
    register: async () => {
      await Promise.resolve();
    },
  },
];

/**
 * The wasm backend's threads: its products and convolutions on onnxruntime with `wanted` threads
 * (XNNPACK's pool then stays at one), else XNNPACK's threaded build, falling back to one thread
 * with the reason.
 */
async function startWasmCompute(wasm: WasmBackendModule): Promise<void> {
  const wanted = wasmThreadsWanted();
  if (ortProductsWanted()) {
    try {
      routeProductsToOrt(tf, wanted);
      wasmThreads.ortThreads = wanted;
      wasmThreads.products = `onnxruntime (MLAS, ${wanted} thread${wanted === 1 ? '' : 's'})`;
      // The products take the threads; XNNPACK's own pool stays at one: its idle workers took
      // the cores from MLAS's (ResNet-18, 2 threads: 510 ms a step with both pools at 2
      // threads, 452 with XNNPACK at 1; ViT-Tiny 2592 and 2320 ms).
      return;
    } catch (e) {
      wasmThreads.products = `XNNPACK (onnxruntime did not load: ${firstLine(e)})`;
    }
  }
  if (wanted === 1) return;
  // Started here, threaded, so that a failure falls back to one thread with the reason.
  try {
    const ok = await startThreadedWasm(
      wasm,
      wanted,
      (name, value) => tf.env().set(name, value),
      () => tf.setBackend('wasm'),
    );
    if (!ok) throw new Error('tfjs could not start it');
    wasmThreads.count = wasm.getThreadsCount();
  } catch (e) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasmThreads.why = `the threaded build did not start (${firstLine(e)})`;
  }
}

/**
 * Frees what the backend keeps between kernels beyond tfjs's tensors (the memory of the wasm
 * backend's onnxruntime sessions); called when a training job ends.
 */
export function releaseBackendMemory(): void {
  releaseOrtSessions();
}

export interface BackendInfo {
  id: BackendId;
  tfName: string;
  description: string;
  /** CPU threads it computes on (the wasm backend's: onnxruntime's for its products, else XNNPACK's; 1 for plain JS). */
  threads: number;
  /** The GPU adapter (webgpu only). */
  adapter?: GpuAdapterInfo;
  /** Why each candidate tried before this one was not used. */
  skipped: { id: BackendId; reason: string }[];
}

let active: BackendInfo | undefined;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

/**
 * Picks and starts a backend. With `auto`, candidates are tried in registry order and the reason
 * each one failed is kept; with a named backend only that one is tried and its failure is an error.
 */
export async function initBackend(choice: BackendChoice, log: (msg: string) => void = () => {}): Promise<BackendInfo> {
  if (active && (choice === 'auto' || choice === active.id)) return active;
  const candidates = choice === 'auto' ? BACKENDS : BACKENDS.filter((b) => b.id === choice);
  const skipped: BackendInfo['skipped'] = [];
  // PROD silences tfjs's console advert for tfjs-node (noise for our users; the registry already
  // logs which backend runs and why others did not) and skips its debug-only checks.
  tf.env().set('PROD', true);
  for (const c of candidates) {
    try {
      const registered = await c.register(choice !== 'auto');
      const ok = await tf.setBackend(c.tfName);
      if (!ok) throw new Error(`tfjs could not initialise the '${c.tfName}' backend`);
      await tf.ready();
      const wasmCompute = wasmThreads.ortThreads ?? wasmThreads.count;
      const threads = c.id === 'wasm' ? wasmCompute : c.id === 'cpu' ? 1 : os.availableParallelism();
      const adapter = registered ? registered.adapter : undefined;
      active = {
        id: c.id,
        tfName: c.tfName,
        description: c.description,
        threads,
        ...(adapter ? { adapter } : {}),
        skipped,
      };
      for (const s of skipped) log(`backend ${s.id} not used: ${s.reason}`);
      log(`backend: ${c.id} (${c.description})${adapter ? ` on ${adapterLine(adapter)}` : ''}`);
      return active;
    } catch (e) {
      skipped.push({ id: c.id, reason: firstLine(e) });
    }
  }
  if (choice !== 'auto') {
    // Asked for by name: the user's choice is what cannot be met (the CLI exits 2 with why).
    throw badInput(`backend ${choice} was asked for but cannot start: ${skipped[0]?.reason ?? 'unknown reason'}`);
  }
  const reasons = skipped.map((s) => `${s.id}: ${s.reason}`).join('; ');
  throw new Error(`no compute backend could start (${reasons})`);
}

type BackendValues = Awaited<ReturnType<tf.KernelBackend['read']>>;

const castRepaired = Symbol('aft.castRepaired');

/**
 * tfjs-backend-webgpu 4.22's Cast from int32 or bool to float32 only relabels the tensor (no
 * encoding loss, it reasons), but its buffers are typed: the data stays i32 under a float32
 * label. Programs that convert what they read (binary ops) hide this; programs that copy, such
 * as the transpose inside every reduction over a non-last axis, fail to compile (the transformer's
 * padding mask, `sum(cast(greater(x, -0.5), 'float32'), 1)`, did) and leave zeros. The cast is
 * made a real conversion on the GPU here: x + 0.0 through the Add kernel, whose program converts
 * each element to f32. Every other cast is tfjs's own.
 */
function repairWebgpuCast(): void {
  const original = tf.getKernel('Cast', 'webgpu');
  const add = tf.getKernel('Add', 'webgpu');
  if (!original || !add) throw new Error('tfjs-backend-webgpu has no Cast or Add kernel');
  if ((original.kernelFunc as { [castRepaired]?: boolean })[castRepaired]) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const dtype = (args.attrs as { dtype: tf.DataType }).dtype;
    if (dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return original.kernelFunc(args);
    const backend = args.backend as tf.KernelBackend & {
      makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.TypedArray): tf.TensorInfo;
    };
    const zero = backend.makeTensorInfo([], 'float32', new Float32Array([0]));
    try {
      return add.kernelFunc({ inputs: { a: x, b: zero }, backend, attrs: {} });
    } finally {
      backend.disposeData(zero.dataId);
    }
  };
  Object.assign(kernelFunc, { [castRepaired]: true });
  tf.unregisterKernel('Cast', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc });
}

/** tfjs-backend-webgpu's backend class (the package registers a factory of its own on import). */
interface WebgpuBackendModule {
  WebGPUBackend: new (
    device: unknown,
    adapterInfo?: unknown,
  ) => tf.KernelBackend & { tensorMap: { get(dataId: object): { values?: BackendValues | null } | undefined } };
}

interface ErrorEventTarget {
  addEventListener(
    type: 'uncapturederror',
    listener: (ev: { error?: { message?: string; constructor?: { name?: string } } }) => void,
  ): void;
  /** Resolves when the device is gone: a driver reset, the GPU removed, `destroy()`. */
  lost?: Promise<{ reason?: string; message?: string }>;
}

/** What a run's failure says when the GPU let it down: what happened and what to change. */
export function gpuFailure(kind: 'lost' | 'memory' | 'error', detail: string): AftError {
  const what =
    kind === 'lost'
      ? `the GPU was lost mid-run (WebGPU device lost: ${detail}): a driver reset, the GPU removed or taken by another process`
      : kind === 'memory'
        ? `the GPU ran out of memory (${detail})`
        : `WebGPU reported an error while computing this result (it is not valid): ${detail}`;
  const change =
    kind === 'memory'
      ? 'lower `train.batch` (or the input size), close what else uses the GPU, or use `backend: wasm`'
      : kind === 'lost'
        ? 'run it again; if it repeats, use `backend: wasm`'
        : 'use `backend: wasm` and report this with the run folder';
  return new AftError('run_failed', `${what}; the jobs that finished are kept in the run folder; ${change}`);
}

/** A WebGPU uncaptured error: out of memory (GPUOutOfMemoryError, or a message that says so) or another. */
export function gpuErrorKind(
  error: { message?: string; constructor?: { name?: string } } | undefined,
): 'memory' | 'error' {
  return error?.constructor?.name === 'GPUOutOfMemoryError' ||
    /out of memory|OOM|allocation failed/i.test(error?.message ?? '')
    ? 'memory'
    : 'error';
}

/**
 * tfjs's WebGPU backend with two Node-specific repairs:
 * - A WebGPU validation error (a shader tfjs generated wrongly, say) is only an event: the
 *   kernel's output stays zeros and nothing throws. Here the next read fails with the error.
 * - `readSync` (dataSync, arraySync) copies through an OffscreenCanvas, which Node lacks; it
 *   now says so instead of "OffscreenCanvas is not defined". The engine reads with `data()`.
 */
function nodeWebgpuBackend(
  Base: WebgpuBackendModule['WebGPUBackend'],
): new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend {
  return class NodeWebGPUBackend extends Base {
    private gpuError: AftError | undefined;
    /** Set once the device is gone: every later read fails with it (nothing computed since is real). */
    private lost: AftError | undefined;

    constructor(device: unknown, adapterInfo?: unknown) {
      super(device, adapterInfo);
      const target = device as ErrorEventTarget;
      target.addEventListener('uncapturederror', (ev) => {
        const message = ev.error?.message ?? 'unknown WebGPU error';
        const program = /"+(\w+Program)"+/.exec(message)?.[1];
        this.gpuError ??= gpuFailure(
          gpuErrorKind(ev.error),
          `${message.trim().split('\n')[0]}${program ? ` (in tfjs's ${program})` : ''}`,
        );
      });
      void target.lost?.then((info) => {
        this.lost = gpuFailure('lost', `${info.reason ?? 'unknown'}${info.message ? `, ${info.message.trim()}` : ''}`);
      });
    }

    /** Read through a call: the device can be lost during an await (TypeScript's narrowing would not see it). */
    private lostError(): AftError | undefined {
      return this.lost;
    }

    override async read(dataId: object): Promise<BackendValues> {
      let lost = this.lostError();
      if (lost) throw lost;
      let values: BackendValues;
      try {
        values = await super.read(dataId);
      } catch (e) {
        // A device lost while the read waited fails it with tfjs's own words; ours say what to do.
        await new Promise((r) => setImmediate(r));
        lost = this.lostError();
        if (lost) throw lost;
        throw e;
      }
      lost = this.lostError();
      if (lost) throw lost;
      const error = this.gpuError;
      if (error !== undefined) {
        this.gpuError = undefined;
        throw error;
      }
      return values;
    }

    override readSync(dataId: object): BackendValues {
      const cached = this.tensorMap.get(dataId)?.values;
      if (cached != null || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined')
        return super.readSync(dataId);
      throw new Error(
        'the webgpu backend cannot read a tensor synchronously in Node (dataSync, arraySync); read it with await data()',
      );
    }
  };
}

/**
 * The webgpu backend on the adapter checked here. tfjs-backend-webgpu registers a factory on
 * import that requests an adapter of its own; it is replaced by one that builds the backend on
 * the adapter described in the logs, with the same device limits that factory asks for. A
 * software adapter is refused under `auto`: on lavapipe a training step of the demo MLP is
 * slower than on the wasm backend on the same cores (see README, "GPU").
 */
async function registerWebgpu(named: boolean): Promise<{ adapter: GpuAdapterInfo }> {
  const { adapter, info } = await requestAdapter();
  if (info.software && !named) {
    throw new Error(
      `the WebGPU adapter is a software rasteriser (${info.softwareReason}): ${adapterLine(info)}; auto passes over it (ask for webgpu by name to use it)`,
    );
  }
  const Backend = nodeWebgpuBackend(
    (loadOptional('@tensorflow/tfjs-backend-webgpu') as WebgpuBackendModule).WebGPUBackend,
  );
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    },
  });
  repairWebgpuCast();
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new Backend(device, adapter.info), 3);
  return { adapter: info };
}

export function activeBackend(): BackendInfo | undefined {
  return active;
}
