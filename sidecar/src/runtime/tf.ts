/**
 * The only module that imports TensorFlow.js. Everything else gets `tf` from here, after
 * `initBackend` has picked a compute backend from the registry.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { startThreadedWasm, wasmThreadsWanted, type WasmBackendModule } from './wasmThreads';

export { tf };
export type Tensor = tf.Tensor;
export type Tensor1D = tf.Tensor1D;
export type Tensor2D = tf.Tensor2D;
export type Tensor4D = tf.Tensor4D;
export type Scalar = tf.Scalar;
export type Variable = tf.Variable;

/** What the user asks for; `auto` tries the registry in order. */
export type BackendChoice = 'auto' | 'gpu' | 'native' | 'wasm' | 'cpu';
export type BackendId = Exclude<BackendChoice, 'auto'>;

interface BackendCandidate {
  id: BackendId;
  /** Name of the backend inside tfjs once registered. */
  tfName: string;
  /** What this candidate is, for logs and the Compute view. */
  description: string;
  /** Registers the backend with tfjs; throws with a reason when it cannot. */
  register(): Promise<void>;
}

// Native modules are loaded with a computed name so that bundlers leave them alone: they are
// optional dependencies that may be missing (their install downloads libtensorflow).
const loadOptional = (name: string): unknown => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name) as unknown;
};

/** Threads of the wasm backend once it has started, and why one if more were wanted. */
const wasmThreads: { count: number; why?: string } = { count: 1 };

/** Compute backends in the order `auto` tries them. */
export const BACKENDS: readonly BackendCandidate[] = [
  {
    id: 'gpu',
    tfName: 'tensorflow',
    description: '@tensorflow/tfjs-node-gpu (libtensorflow with CUDA)',
    register: async () => {
      loadOptional('@tensorflow/tfjs-node-gpu');
      await Promise.resolve();
    },
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
      return `@tensorflow/tfjs-backend-wasm (XNNPACK, SIMD, ${wasmThreads.count} thread${wasmThreads.count === 1 ? '' : 's'}${wasmThreads.why ? `: ${wasmThreads.why}` : ''})`;
    },
    register: async () => {
      const wasm = loadOptional('@tensorflow/tfjs-backend-wasm') as WasmBackendModule;
      const wanted = wasmThreadsWanted();
      if (wanted === 1) return;
      // Started here, threaded, so that a failure falls back to one thread with the reason.
      try {
        const ok = await startThreadedWasm(wasm, wanted, (name, value) => tf.env().set(name, value), () => tf.setBackend('wasm'));
        if (!ok) throw new Error('tfjs could not start it');
        wasmThreads.count = wasm.getThreadsCount();
      } catch (e) {
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        wasmThreads.why = `the threaded build did not start (${firstLine(e)})`;
      }
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

export interface BackendInfo {
  id: BackendId;
  tfName: string;
  description: string;
  /** CPU threads it computes on (the wasm backend's XNNPACK threads; 1 for plain JS). */
  threads: number;
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
export async function initBackend(
  choice: BackendChoice,
  log: (msg: string) => void = () => {},
): Promise<BackendInfo> {
  if (active && (choice === 'auto' || choice === active.id)) return active;
  const candidates = choice === 'auto' ? BACKENDS : BACKENDS.filter((b) => b.id === choice);
  const skipped: BackendInfo['skipped'] = [];
  // PROD silences tfjs's console advert for tfjs-node (noise for our users; the registry already
  // logs which backend runs and why others did not) and skips its debug-only checks.
  tf.env().set('PROD', true);
  for (const c of candidates) {
    try {
      await c.register();
      const ok = await tf.setBackend(c.tfName);
      if (!ok) throw new Error(`tfjs could not initialise the '${c.tfName}' backend`);
      await tf.ready();
      const threads = c.id === 'wasm' ? wasmThreads.count : c.id === 'cpu' ? 1 : os.availableParallelism();
      active = { id: c.id, tfName: c.tfName, description: c.description, threads, skipped };
      for (const s of skipped) log(`backend ${s.id} not used: ${s.reason}`);
      log(`backend: ${c.id} (${c.description})`);
      return active;
    } catch (e) {
      skipped.push({ id: c.id, reason: firstLine(e) });
    }
  }
  const reasons = skipped.map((s) => `${s.id}: ${s.reason}`).join('; ');
  throw new Error(`no compute backend could start (${reasons})`);
}

export function activeBackend(): BackendInfo | undefined {
  return active;
}
