/**
 * The only module that imports onnxruntime-node. Everything that runs an ONNX model (feature
 * extraction, export verification, benchmarks) opens it here, so the execution-provider policy,
 * input checks and error messages are the same everywhere.
 *
 * Execution providers: `auto` uses CUDA when onnxruntime-node's CUDA provider library is
 * installed next to its binding and a session actually starts on it; else WebGPU (built into
 * onnxruntime-node's binary) when the adapter is a GPU, not a software rasteriser, and a session
 * starts on it; otherwise the CPU, with the reasons logged. A named provider that cannot start
 * is an error; `webgpu` by name also runs on a software adapter (lavapipe in CI).
 *
 * Which onnxruntime-node: the GPU runtime's (AFT_GPU_RUNTIME: `aft gpu install`, AFT: Install GPU
 * Runtime) when it holds the CUDA provider, else the sidecar's own (CPU and WebGPU only).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/worker';
import { AftError, badInput, type ErrorCode, type SourceLocation } from '../../../core/common/util/errors';
import type { GpuAdapterInfo } from '../../../core/common/protocol/rpc';
import { onnxBindingDir, onnxCudaProviderFile, runtimeOnnxWithCuda } from '../../../core/node/gpu/runtime';
import { adapterLine, requestAdapter, webgpuDisabled } from './webgpu';

let loaded: { ort: typeof Ort; dir: string } | undefined;

/** onnxruntime-node, loaded on first use (the CLI names the GPU runtime folder before that). */
function onnxruntime(): { ort: typeof Ort; dir: string } {
  if (!loaded) {
    const runtime = process.env.AFT_GPU_RUNTIME;
    const dir =
      (runtime && runtimeOnnxWithCuda(runtime)) || path.dirname(require.resolve('onnxruntime-node/package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = { ort: require(dir) as typeof Ort, dir };
  }
  return loaded;
}

/** onnxruntime-node's native session (its `dist/binding`), whose `run` is synchronous. */
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, Ort.Tensor>,
    fetches: Record<string, Ort.Tensor | null>,
    options: object,
  ): Record<string, Ort.Tensor>;
  dispose(): void;
}

let bindingSession: (new () => BindingSession) | undefined;

/** A CPU session run synchronously, on float32 operands: what a tfjs kernel can call. */
export interface SyncSession {
  /**
   * Runs the model on the named operands and returns its output `y`, written into `into` when
   * given (onnxruntime writes it there: no copy).
   */
  run(
    feeds: Record<string, { data: Float32Array; dims: readonly number[] }>,
    into?: { data: Float32Array; dims: readonly number[] },
  ): Float32Array;
  dispose(): void;
}

/**
 * Opens `model` on the CPU provider for the wasm backend's kernels (ortKernels.ts). tfjs kernels are
 * synchronous, and onnxruntime-node's public `run` only defers the synchronous call of its native
 * session to the next tick (onnxruntime-node 1.30 `dist/backend.js`), so that session class is
 * used directly, from the same onnxruntime-node as every other session. Pool threads sleep when
 * idle: these sessions are many, each with its own pool, and spinning pools took the cores from
 * each other and from the wasm kernels between products (ResNet-18 at 2 threads on 2 cores:
 * 1266 ms a step spinning, 453 ms not). `arena`: whether the session keeps its largest run's
 * temporaries for the next run (onnxruntime's memory arena).
 */
export function openSyncSession(model: Uint8Array, opts: { threads: number; arena: boolean }): SyncSession {
  if (!bindingSession) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const b = require(path.join(onnxruntime().dir, 'dist', 'binding')) as {
      binding?: { InferenceSession?: new () => BindingSession };
      initOrt?: () => void;
    };
    if (typeof b.initOrt !== 'function' || typeof b.binding?.InferenceSession !== 'function')
      throw new Error('this onnxruntime-node has no synchronous session binding (a version other than 1.30?)');
    b.initOrt();
    bindingSession = b.binding.InferenceSession;
  }
  const { ort } = onnxruntime();
  const s = new bindingSession();
  s.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: opts.arena,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return {
    run: (feeds, into) => {
      const inputs: Record<string, Ort.Tensor> = {};
      for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', f.data, f.dims);
      if (into) {
        s.run(inputs, { y: new ort.Tensor('float32', into.data, into.dims) }, {});
        return into.data;
      }
      const y = s.run(inputs, { y: null }, {}).y;
      const data = y.data as Float32Array;
      y.dispose();
      return data;
    },
    dispose: () => s.dispose(),
  };
}

export const ONNX_DEVICES = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type OnnxDevice = (typeof ONNX_DEVICES)[number];
export type OnnxProvider = Exclude<OnnxDevice, 'auto'>;

/** A graph input or output as the model declares it; symbolic dimensions are strings. */
export interface OnnxValueInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

export type OnnxData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

/** A tensor crossing the boundary: plain typed array + dims, no onnxruntime types leak out. */
export interface OnnxTensor {
  type: 'float32' | 'int64' | 'int32' | 'bool';
  data: OnnxData;
  dims: number[];
}

export interface OnnxSessionOptions {
  device: OnnxDevice;
  /** Intra-op threads; 0 or undefined: one per core. */
  threads?: number;
  log?: (message: string) => void;
  /**
   * Run the model in a worker thread (runtime/onnxThread.ts): onnxruntime-node's `run` blocks
   * the thread it is called on, so a pipeline that prepares the next batch while the model runs
   * needs the model elsewhere.
   */
  thread?: boolean;
}

/** What runs a model, in this thread (`OnnxSession`) or in a worker (`ThreadedOnnxSession`). */
export interface OnnxRunner {
  readonly file: string;
  readonly provider: OnnxProvider;
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];
  input(name: string | undefined, field: string): OnnxValueInfo;
  output(name: string | undefined, field: string): OnnxValueInfo;
  run(feeds: Record<string, OnnxTensor>, outputNames?: string[]): Promise<Record<string, OnnxTensor>>;
  /**
   * `run` with the feeds' memory moved to the model and back instead of copied: the feeds' arrays
   * are detached (unusable) until it settles, and `feeds` in the answer holds them again, over the
   * same memory, for the caller to reuse. Only for feeds whose buffers the caller owns whole (not
   * a pooled Node Buffer). A fresh copy per batch costs the model's thread the copy and first-touch
   * page faults in new memory (~13 µs a 4 KiB page on this project's VMs; see bench:extract).
   */
  runMoved(
    feeds: Record<string, OnnxTensor>,
    outputNames?: string[],
  ): Promise<{ outputs: Record<string, OnnxTensor>; feeds: Record<string, OnnxTensor> }>;
  release(): Promise<void>;
}

/** The distinct whole buffers behind some tensors: what a message moves. */
export function buffersOf(tensors: Iterable<OnnxTensor>): ArrayBuffer[] {
  return [...new Set([...tensors].map((t) => t.data.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer))];
}

/** The input or output called `name` (the first when undefined), or an error listing those there are. */
export function pickValue(
  list: OnnxValueInfo[],
  name: string | undefined,
  what: 'input' | 'output',
  field: string,
  file: string,
): OnnxValueInfo {
  const found = name === undefined ? list[0] : list.find((v) => v.name === name);
  if (found) return found;
  const has = list.map((v) => `${v.name} ${v.type}${fmt(v.shape)}`).join(', ');
  throw badInput(
    name === undefined ? `the model has no ${what}s` : `the model has no ${what} '${name}'; its ${what}s are: ${has}`,
    { file, field },
  );
}

/** Checks a feed against the declared type and shape; symbolic dimensions match anything. */
export function checkFeed(inputs: OnnxValueInfo[], name: string, t: OnnxTensor, file: string): void {
  const info = inputs.find((i) => i.name === name);
  if (!info)
    throw badInput(`the model has no input '${name}'; its inputs are: ${inputs.map((i) => i.name).join(', ')}`, {
      file,
    });
  const ok =
    info.shape.length === t.dims.length &&
    info.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === t.dims[i]);
  if (!ok) throw badInput(`input '${name}' expects shape ${fmt(info.shape)} but got ${fmt(t.dims)}`, { file });
  if (info.type !== t.type) throw badInput(`input '${name}' expects ${info.type} values but got ${t.type}`, { file });
}

/** Refuses feeds that leave a model input without a value. */
export function checkAllFed(inputs: OnnxValueInfo[], feeds: Record<string, OnnxTensor>, file: string): void {
  const missing = inputs.filter((i) => !(i.name in feeds)).map((i) => i.name);
  if (missing.length)
    throw badInput(`no value given for the model's input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
      file,
    });
}

const fmt = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`;

let lastCpuReason: string | undefined;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}

/** Where the onnxruntime-node in use keeps its native libraries for this platform. */
function bindingDir(): string {
  return onnxBindingDir(onnxruntime().dir);
}

/**
 * Whether the CUDA provider library is installed. onnxruntime-node bundles only the CPU build;
 * the CUDA provider is downloaded at install time (`ONNXRUNTIME_NODE_INSTALL=cuda12`).
 */
export function cudaProviderInstalled(): { installed: boolean; reason?: string } {
  const lib = onnxCudaProviderFile();
  if (process.platform !== 'linux' && process.platform !== 'win32')
    return { installed: false, reason: `onnxruntime-node has no CUDA provider for ${process.platform}` };
  const file = path.join(bindingDir(), lib);
  if (fs.existsSync(file)) return { installed: true };
  return {
    installed: false,
    reason: `the CUDA provider (${lib}) is not installed (\`aft gpu install\` or AFT: Install GPU Runtime installs it; \`aft gpu check\` says what CUDA needs)`,
  };
}

/**
 * A session on onnxruntime's WebGPU provider, or why not. onnxruntime-node's binary carries its
 * own Dawn, which cannot describe its adapter; the adapter is read through the `webgpu` package
 * (the same Dawn adapter order: high performance first). `auto` needs that adapter to be a GPU: on
 * a software rasteriser the CPU provider is faster. By name, the provider is tried whatever the
 * adapter (the `webgpu` package is then only used to name it, when installed).
 */
async function openWebgpu(
  file: string,
  base: Ort.InferenceSession.SessionOptions,
  named: boolean,
): Promise<{ session: Ort.InferenceSession; adapter?: GpuAdapterInfo } | { reason: string }> {
  const off = webgpuDisabled();
  if (off) return { reason: off };
  let adapter: GpuAdapterInfo | undefined;
  try {
    adapter = (await requestAdapter()).info;
  } catch (e) {
    if (!named) return { reason: `WebGPU is not used: ${firstLine(e)}` };
  }
  if (adapter?.software && !named)
    return {
      reason: `the WebGPU adapter is a software rasteriser (${adapter.softwareReason}), which auto passes over (ask for device webgpu by name to use it)`,
    };
  try {
    const session = await onnxruntime().ort.InferenceSession.create(file, { ...base, executionProviders: ['webgpu'] });
    return { session, ...(adapter ? { adapter } : {}) };
  } catch (e) {
    return { reason: `the WebGPU provider did not start: ${firstLine(e)}` };
  }
}

function infoOf(m: Ort.InferenceSession.ValueMetadata): OnnxValueInfo {
  return m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] };
}

export class OnnxSession implements OnnxRunner {
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];

  private constructor(
    private readonly session: Ort.InferenceSession,
    readonly file: string,
    readonly provider: OnnxProvider,
  ) {
    this.inputs = session.inputMetadata.map(infoOf);
    this.outputs = session.outputMetadata.map(infoOf);
  }

  /** Opens a model file on the device asked for (see the module comment for `auto`). */
  static async open(file: string, opts: OnnxSessionOptions): Promise<OnnxSession> {
    const log = opts.log ?? ((): void => {});
    if (!fs.existsSync(file)) throw badInput('ONNX model not found', { file });
    const base: Ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // Warnings such as "removing initializer" are noise for users; errors still surface as exceptions.
      logSeverityLevel: 3,
      // Idle intra-op threads block instead of spinning, leaving the cores to the image decoding
      // that overlaps each run (measured in `npm run bench:extract`).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      // Set, not left to onnxruntime: its own default (physical cores, as it detects them) ran
      // one thread on this project's 2-core machines, half the speed of two (bench:extract).
      intraOpNumThreads: opts.threads || os.availableParallelism(),
      interOpNumThreads: 1,
    };
    const rel = path.relative(process.cwd(), file);
    const label = rel && !rel.startsWith('..') ? rel : file;
    if (opts.device !== 'cpu') {
      const reasons: string[] = [];
      if (opts.device === 'auto' || opts.device === 'cuda') {
        const cuda = cudaProviderInstalled();
        let reason = cuda.reason;
        if (cuda.installed) {
          try {
            const s = await onnxruntime().ort.InferenceSession.create(file, { ...base, executionProviders: ['cuda'] });
            log(`onnxruntime: ${label} on CUDA`);
            return new OnnxSession(s, file, 'cuda');
          } catch (e) {
            reason = `the CUDA provider did not start: ${firstLine(e)}`;
          }
        }
        if (opts.device === 'cuda') throw badInput(`device cuda was asked for but ${reason}`, { file });
        reasons.push(reason ?? 'CUDA did not start');
      }
      if (opts.device === 'auto' || opts.device === 'webgpu') {
        const named = opts.device === 'webgpu';
        const r = await openWebgpu(file, base, named);
        if ('session' in r) {
          log(`onnxruntime: ${label} on WebGPU${r.adapter ? ` (${adapterLine(r.adapter)})` : ''}`);
          return new OnnxSession(r.session, file, 'webgpu');
        }
        if (named) throw badInput(`device webgpu was asked for but ${r.reason}`, { file });
        reasons.push(r.reason);
      }
      const reason = reasons.join('; ');
      // The reason is the same for every model in a process: say it once, then only where each runs.
      log(`onnxruntime: ${label} on CPU${reason !== lastCpuReason ? ` (${reason})` : ''}`);
      lastCpuReason = reason;
    }
    try {
      return new OnnxSession(
        await onnxruntime().ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] }),
        file,
        'cpu',
      );
    } catch (e) {
      let size = -1;
      try {
        size = fs.statSync(file).size;
      } catch {
        // Reported below through onnxruntime's own message.
      }
      throw badInput(
        `cannot load the ONNX model (${size >= 0 ? `${size} bytes; ` : ''}corrupt, truncated or not ONNX?): ${firstLine(e)}`,
        { file },
      );
    }
  }

  input(name: string | undefined, field: string): OnnxValueInfo {
    return pickValue(this.inputs, name, 'input', field, this.file);
  }

  output(name: string | undefined, field: string): OnnxValueInfo {
    return pickValue(this.outputs, name, 'output', field, this.file);
  }

  /** Runs the model; returns the named outputs (all when `outputNames` is omitted). */
  async run(feeds: Record<string, OnnxTensor>, outputNames?: string[]): Promise<Record<string, OnnxTensor>> {
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      checkFeed(this.inputs, name, t, this.file);
      ortFeeds[name] = new (onnxruntime().ort.Tensor)(t.type, t.data, t.dims);
    }
    checkAllFed(this.inputs, feeds, this.file);
    const out = outputNames ? await this.session.run(ortFeeds, outputNames) : await this.session.run(ortFeeds);
    const result: Record<string, OnnxTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { type: t.type as OnnxTensor['type'], data: t.data as OnnxData, dims: [...t.dims] };
    }
    return result;
  }

  async runMoved(
    feeds: Record<string, OnnxTensor>,
    outputNames?: string[],
  ): Promise<{ outputs: Record<string, OnnxTensor>; feeds: Record<string, OnnxTensor> }> {
    // In this thread nothing moves: the feeds stay the caller's.
    return { outputs: await this.run(feeds, outputNames), feeds };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Messages between `ThreadedOnnxSession` and its worker (runtime/onnxWorker.ts). */
export type OnnxWorkerRequest =
  | { type: 'run'; id: number; feeds: Record<string, OnnxTensor>; outputNames?: string[]; moved?: boolean }
  | { type: 'release'; id: number };
export type OnnxWorkerReply =
  | { type: 'opened'; inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[]; provider: OnnxProvider }
  | { type: 'log'; message: string }
  /** `feeds`: a moved run's feeds, moved back. */
  | { type: 'result'; id: number; outputs: Record<string, OnnxTensor>; feeds?: Record<string, OnnxTensor> }
  | { type: 'released'; id: number }
  | { type: 'error'; id: number; error: { message: string; code?: string; location?: SourceLocation } };

export interface OnnxWorkerData {
  file: string;
  opts: Omit<OnnxSessionOptions, 'log' | 'thread'>;
}

/** The worker (runtime/onnxWorker.ts, bundled as dist/sidecar/onnx-worker.js). */
function startOnnxWorker(data: OnnxWorkerData): Worker {
  return startWorker(__dirname, 'onnx-worker.js', 'onnxWorker.ts', data);
}

/**
 * An `OnnxSession` in a worker thread. onnxruntime-node's `run` computes on the thread that calls
 * it (in a setImmediate callback, then blocking that thread for the whole run), so in the main thread it stops
 * everything else for the whole batch: the decoded images of the next batch wait to be
 * normalised, and on a GPU the CPU sits idle. Here the main thread only posts feeds and gets
 * outputs back; checks of feeds happen before posting, with the same messages.
 */
export class ThreadedOnnxSession implements OnnxRunner {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: OnnxWorkerReply) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly file: string,
    readonly provider: OnnxProvider,
    readonly inputs: OnnxValueInfo[],
    readonly outputs: OnnxValueInfo[],
  ) {
    worker.on('message', (m: OnnxWorkerReply) => {
      if (m.type === 'log' || m.type === 'opened') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'error') p.reject(errorFrom(m.error));
      else p.resolve(m);
    });
    const fail = (e: Error): void => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the onnxruntime worker thread exited (code ${code})`)));
  }

  static open(file: string, opts: OnnxSessionOptions): Promise<ThreadedOnnxSession> {
    const worker = startOnnxWorker({
      file,
      opts: { device: opts.device, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) },
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: OnnxWorkerReply): void => {
        if (m.type === 'log') opts.log?.(m.message);
        else if (m.type === 'opened') {
          worker.off('error', reject);
          resolve(new ThreadedOnnxSession(worker, file, m.provider, m.inputs, m.outputs));
        } else if (m.type === 'error' && m.id === 0) {
          void worker.terminate();
          reject(errorFrom(m.error));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  input(name: string | undefined, field: string): OnnxValueInfo {
    return pickValue(this.inputs, name, 'input', field, this.file);
  }

  output(name: string | undefined, field: string): OnnxValueInfo {
    return pickValue(this.outputs, name, 'output', field, this.file);
  }

  async run(feeds: Record<string, OnnxTensor>, outputNames?: string[]): Promise<Record<string, OnnxTensor>> {
    for (const [name, t] of Object.entries(feeds)) checkFeed(this.inputs, name, t, this.file);
    checkAllFed(this.inputs, feeds, this.file);
    // Feeds are copied, not transferred: a caller may run the same tensors again (benchmarks do).
    const reply = await this.request({
      type: 'run',
      id: this.nextId++,
      feeds,
      ...(outputNames ? { outputNames } : {}),
    });
    if (reply.type !== 'result') throw new Error(`internal error: the onnxruntime worker answered ${reply.type}`);
    return reply.outputs;
  }

  async runMoved(
    feeds: Record<string, OnnxTensor>,
    outputNames?: string[],
  ): Promise<{ outputs: Record<string, OnnxTensor>; feeds: Record<string, OnnxTensor> }> {
    for (const [name, t] of Object.entries(feeds)) checkFeed(this.inputs, name, t, this.file);
    checkAllFed(this.inputs, feeds, this.file);
    const reply = await this.request(
      { type: 'run', id: this.nextId++, feeds, moved: true, ...(outputNames ? { outputNames } : {}) },
      buffersOf(Object.values(feeds)),
    );
    if (reply.type !== 'result' || !reply.feeds)
      throw new Error(
        `internal error: the onnxruntime worker answered ${reply.type}${reply.type === 'result' ? ' without the moved feeds' : ''}`,
      );
    return { outputs: reply.outputs, feeds: reply.feeds };
  }

  async release(): Promise<void> {
    if (!this.failure) await this.request({ type: 'release', id: this.nextId++ });
    await this.worker.terminate();
  }

  private request(m: OnnxWorkerRequest, transfer: ArrayBuffer[] = []): Promise<OnnxWorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(m.id, { resolve, reject });
      this.worker.postMessage(m, transfer);
    });
  }
}

/** An error from the worker as the main thread's own: bad input stays bad input, with where. */
function errorFrom(e: { message: string; code?: string; location?: SourceLocation }): Error {
  return e.code ? new AftError(e.code as ErrorCode, e.message, e.location) : new Error(e.message);
}

/**
 * Open sessions shared by the extractions of one run or command: two sources over the same model
 * file (e.g. its token output and its pooled output) load it once, and a session that has
 * already run skips onnxruntime's slow first calls.
 */
export class OnnxSessionPool {
  private readonly open = new Map<string, Promise<OnnxRunner>>();

  get(file: string, opts: OnnxSessionOptions): Promise<OnnxRunner> {
    const key = JSON.stringify([file, opts.device, opts.threads ?? 0, Boolean(opts.thread)]);
    let s = this.open.get(key);
    if (!s) {
      s = opts.thread ? ThreadedOnnxSession.open(file, opts) : OnnxSession.open(file, opts);
      // A failed open is not kept: the next caller gets the error again, not a stale promise.
      s.catch(() => this.open.delete(key));
      this.open.set(key, s);
    }
    return s;
  }

  async releaseAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const s of all) {
      try {
        await (await s).release();
      } catch {
        // Failed opens have nothing to release.
      }
    }
  }
}
