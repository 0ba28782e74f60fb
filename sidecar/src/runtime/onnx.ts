/**
 * The only module that imports onnxruntime-node. Everything that runs an ONNX model (feature
 * extraction, export verification, benchmarks) opens it here, so the execution-provider policy,
 * input checks and error messages are the same everywhere.
 *
 * Execution providers: `auto` uses CUDA when onnxruntime-node's CUDA provider library is
 * installed next to its binding and a session actually starts on it; otherwise the CPU, with the
 * reason logged. A named provider that cannot start is an error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { badInput } from '../util/errors';

export const ONNX_DEVICES = ['auto', 'cuda', 'cpu'] as const;
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
  /** Intra-op threads; 0 or undefined lets onnxruntime choose (one per core). */
  threads?: number;
  log?: (message: string) => void;
}

const fmt = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`;

let lastCpuReason: string | undefined;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}

/** Where onnxruntime-node keeps its native libraries for this platform. */
function bindingDir(): string {
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Whether the CUDA provider library is installed. onnxruntime-node bundles only the CPU build;
 * the CUDA provider is downloaded at install time (`ONNXRUNTIME_NODE_INSTALL=cuda12`).
 */
export function cudaProviderInstalled(): { installed: boolean; reason?: string } {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  if (process.platform !== 'linux' && process.platform !== 'win32') return { installed: false, reason: `onnxruntime-node has no CUDA provider for ${process.platform}` };
  const file = path.join(bindingDir(), lib);
  if (fs.existsSync(file)) return { installed: true };
  return { installed: false, reason: `the CUDA provider (${lib}) is not installed; reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a CUDA 12 machine` };
}

function infoOf(m: ort.InferenceSession.ValueMetadata): OnnxValueInfo {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

export class OnnxSession {
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];

  private constructor(
    private readonly session: ort.InferenceSession,
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
    const base: ort.InferenceSession.SessionOptions = {
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
      const cuda = cudaProviderInstalled();
      let reason = cuda.reason;
      if (cuda.installed) {
        try {
          const s = await ort.InferenceSession.create(file, { ...base, executionProviders: ['cuda'] });
          log(`onnxruntime: ${label} on CUDA`);
          return new OnnxSession(s, file, 'cuda');
        } catch (e) {
          reason = `the CUDA provider did not start: ${firstLine(e)}`;
        }
      }
      if (opts.device === 'cuda') throw badInput(`device cuda was asked for but ${reason}`, { file });
      // The reason is the same for every model in a process: say it once, then only where each runs.
      log(`onnxruntime: ${label} on CPU${reason !== lastCpuReason ? ` (${reason})` : ''}`);
      lastCpuReason = reason;
    }
    try {
      return new OnnxSession(await ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] }), file, 'cpu');
    } catch (e) {
      let size = -1;
      try {
        size = fs.statSync(file).size;
      } catch {
        // Reported below through onnxruntime's own message.
      }
      throw badInput(`cannot load the ONNX model (${size >= 0 ? `${size} bytes; ` : ''}corrupt, truncated or not ONNX?): ${firstLine(e)}`, { file });
    }
  }

  input(name: string | undefined, field: string): OnnxValueInfo {
    return this.pick(this.inputs, name, 'input', field);
  }

  output(name: string | undefined, field: string): OnnxValueInfo {
    return this.pick(this.outputs, name, 'output', field);
  }

  private pick(list: OnnxValueInfo[], name: string | undefined, what: string, field: string): OnnxValueInfo {
    const found = name === undefined ? list[0] : list.find((v) => v.name === name);
    if (found) return found;
    const has = list.map((v) => `${v.name} ${v.type}${fmt(v.shape)}`).join(', ');
    throw badInput(name === undefined ? `the model has no ${what}s` : `the model has no ${what} '${name}'; its ${what}s are: ${has}`, { file: this.file, field });
  }

  /** Checks a feed against the declared type and shape; symbolic dimensions match anything. */
  private check(name: string, t: OnnxTensor): void {
    const info = this.inputs.find((i) => i.name === name);
    if (!info) throw badInput(`the model has no input '${name}'; its inputs are: ${this.inputs.map((i) => i.name).join(', ')}`, { file: this.file });
    const ok = info.shape.length === t.dims.length && info.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === t.dims[i]);
    if (!ok) throw badInput(`input '${name}' expects shape ${fmt(info.shape)} but got ${fmt(t.dims)}`, { file: this.file });
    if (info.type !== t.type) throw badInput(`input '${name}' expects ${info.type} values but got ${t.type}`, { file: this.file });
  }

  /** Runs the model; returns the named outputs (all when `outputNames` is omitted). */
  async run(feeds: Record<string, OnnxTensor>, outputNames?: string[]): Promise<Record<string, OnnxTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      this.check(name, t);
      ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    }
    const missing = this.inputs.filter((i) => !(i.name in feeds)).map((i) => i.name);
    if (missing.length) throw badInput(`no value given for the model's input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, { file: this.file });
    const out = outputNames ? await this.session.run(ortFeeds, outputNames) : await this.session.run(ortFeeds);
    const result: Record<string, OnnxTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { type: t.type as OnnxTensor['type'], data: t.data as OnnxData, dims: [...t.dims] };
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Open sessions shared by the extractions of one run or command: two sources over the same model
 * file (e.g. its token output and its pooled output) load it once, and a session that has
 * already run skips onnxruntime's slow first calls.
 */
export class OnnxSessionPool {
  private readonly open = new Map<string, Promise<OnnxSession>>();

  get(file: string, opts: OnnxSessionOptions): Promise<OnnxSession> {
    const key = JSON.stringify([file, opts.device, opts.threads ?? 0]);
    let s = this.open.get(key);
    if (!s) {
      s = OnnxSession.open(file, opts);
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
