/**
 * tfjs-backend-wasm's threaded SIMD build (XNNPACK on a pool of pthreads), started in Node.
 * The package ships that build but never uses it in Node, for three reasons this module removes
 * while the backend starts, and only then:
 *
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` is false whenever tfjs runs in Node (tfjs#3830): it is set
 *    to true here.
 * 2. tfjs hands its pthread workers their scripts as Blob URLs (the worker script, and the
 *    module's own factory as a Blob), and Node's `Worker` loads files only. Both Blobs are made
 *    from strings, so while the backend starts a `Blob` keeps its text, `URL.createObjectURL` of
 *    such a Blob writes that text to a content-addressed file in the OS temp folder and returns
 *    its path, and the `Worker` that tfjs creates replaces a Blob main script with such a file.
 *    The factory's text refers to variables of the bundle it came from (its `require`d modules),
 *    so the file defines them first (`PRELUDE`).
 * 3. XNNPACK uses at most half the logical cores it is told of (it assumes two hyper-threads a
 *    core), so `os.cpus()` reports twice the threads wanted while the module starts.
 *
 * The pool's workers never keep the process alive (a CLI run ends when its work does).
 * Everything patched is restored once the backend has started.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TransferListItem, WorkerOptions } from 'node:worker_threads';
import { writeFileAtomic } from '../../../core/node/util/fsx';

// The module objects themselves, which the tfjs bundle reads when the backend starts (an ES
// namespace import would be a copy whose properties cannot be replaced).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const os = require('node:os') as typeof import('node:os');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');

/** What tfjs-backend-wasm exports that this module uses. */
export interface WasmBackendModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** The pthread pool tfjs builds has 8 workers; XNNPACK uses at most that many threads. */
export const MAX_WASM_THREADS = 8;

// The rollup bundle `tf-backend-wasm.node.js` names its Node modules require$$0.. (fs, path,
// perf_hooks, os); the factory's source text, run in a worker, refers to them by those names.
const PRELUDE =
  "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os'), commonjsGlobal = globalThis;\n";

/** Threads to use: `AFT_WASM_THREADS`, else every logical core, at most the pool's size. */
export function wasmThreadsWanted(env: NodeJS.ProcessEnv = process.env): number {
  const asked = env.AFT_WASM_THREADS !== undefined ? Number(env.AFT_WASM_THREADS) : os.availableParallelism();
  return Number.isInteger(asked) && asked >= 1 ? Math.min(asked, MAX_WASM_THREADS) : 1;
}

function scriptFile(text: string): string {
  const file = path.join(
    os.tmpdir(),
    `aft-tfjs-wasm-${createHash('sha256').update(text).digest('hex').slice(0, 20)}.js`,
  );
  // Written whole under another name, then renamed: a worker never reads half a script.
  if (!fs.existsSync(file)) writeFileAtomic(file, text);
  return file;
}

/**
 * Runs `start` (which must start tfjs's `wasm` backend) with the threaded build enabled for
 * `threads` threads, and returns what it returns. `setFlag` sets a tfjs environment flag.
 */
export async function startThreadedWasm<T>(
  wasm: WasmBackendModule,
  threads: number,
  setFlag: (name: string, value: boolean) => void,
  start: () => Promise<T>,
): Promise<T> {
  const NodeBlob = globalThis.Blob;
  const texts = new WeakMap<Blob, string>();
  class TextBlob extends NodeBlob {
    constructor(
      parts: ConstructorParameters<typeof NodeBlob>[0] = [],
      options?: ConstructorParameters<typeof NodeBlob>[1],
    ) {
      super(parts, options);
      const strings = [...parts];
      if (strings.every((p) => typeof p === 'string')) texts.set(this, strings.join(''));
    }
  }
  const createObjectURL = URL.createObjectURL.bind(URL);
  const NodeWorker = workerThreads.Worker;
  class PoolWorker extends NodeWorker {
    constructor(file: string | URL, options?: WorkerOptions) {
      // Plain scripts: none of the parent's Node options (a loader, --input-type of `node -e`)
      // apply to them, and some refuse to start a file.
      super(file, { ...options, execArgv: [] });
      super.unref();
    }
    override ref(): void {
      // A worker waiting in the pool, or XNNPACK's threads waiting for work, never keep the
      // process alive: the main thread's work does.
    }
    override postMessage(message: unknown, transfer?: readonly TransferListItem[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown };
      const text = m?.cmd === 'load' && m.urlOrBlob instanceof NodeBlob ? texts.get(m.urlOrBlob) : undefined;
      super.postMessage(text !== undefined ? { ...m, urlOrBlob: scriptFile(PRELUDE + text) } : message, transfer);
    }
  }
  const cpus = os.cpus;
  globalThis.Blob = TextBlob;
  URL.createObjectURL = (b: Blob) => {
    const text = texts.get(b);
    return text !== undefined ? scriptFile(text) : createObjectURL(b);
  };
  (workerThreads as { Worker: typeof NodeWorker }).Worker = PoolWorker;
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
  try {
    setFlag('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    return await start();
  } finally {
    globalThis.Blob = NodeBlob;
    URL.createObjectURL = createObjectURL;
    (workerThreads as { Worker: typeof NodeWorker }).Worker = NodeWorker;
    os.cpus = cpus;
  }
}
