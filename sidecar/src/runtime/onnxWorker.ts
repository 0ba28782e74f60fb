/**
 * The worker thread behind `ThreadedOnnxSession` (runtime/onnx.ts): opens one `OnnxSession` and
 * runs it on request, so that onnxruntime's blocking `run` blocks this thread, not the main one.
 * Bundled as dist/sidecar/onnx-worker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AftError } from '../../../core/common/util/errors';
import {
  buffersOf,
  OnnxSession,
  type OnnxTensor,
  type OnnxWorkerData,
  type OnnxWorkerReply,
  type OnnxWorkerRequest,
} from './onnx';

const port = parentPort;
if (!port) throw new Error('onnxWorker.ts runs as a worker thread only');
const post = (m: OnnxWorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const errorOf = (e: unknown): { message: string; code?: string; location?: AftError['location'] } =>
  e instanceof AftError
    ? { message: e.message, code: e.code, ...(e.location ? { location: e.location } : {}) }
    : { message: e instanceof Error ? e.message : String(e) };

const { file, opts } = workerData as OnnxWorkerData;
OnnxSession.open(file, { ...opts, log: (message) => post({ type: 'log', message }) }).then(
  (session) => {
    // Runs not answered yet. onnxruntime-node starts a run in a setImmediate callback after `run`
    // returns, so a release that arrives meanwhile (an extraction stopped by a cancel or a full
    // disk, with the next batch already queued here) would release the session before that run
    // starts, and the main thread then ends this thread while the run calls into it: a C++
    // Napi::Error that nothing can catch aborts the whole process (seen in ~1 of 20 runs of
    // test/unit/featureCache.test.ts). So a release waits for the runs in flight.
    const inflight = new Set<Promise<void>>();
    let released = false;
    port.on('message', (m: OnnxWorkerRequest) => {
      if (m.type === 'release') {
        released = true;
        Promise.allSettled(inflight)
          .then(() => session.release())
          .then(
            () => post({ type: 'released', id: m.id }),
            (e: unknown) => post({ type: 'error', id: m.id, error: errorOf(e) }),
          );
        return;
      }
      if (released) {
        post({ type: 'error', id: m.id, error: { message: `the onnxruntime session of ${file} was released` } });
        return;
      }
      const run = session.run(m.feeds, m.outputNames).then(
        (outputs: Record<string, OnnxTensor>) => {
          // Outputs are this thread's to give away: moved, not copied; moved feeds go back the same way.
          const back = m.moved ? Object.values(m.feeds) : [];
          post(
            { type: 'result', id: m.id, outputs, ...(m.moved ? { feeds: m.feeds } : {}) },
            buffersOf([...Object.values(outputs), ...back]),
          );
        },
        (e: unknown) => post({ type: 'error', id: m.id, error: errorOf(e) }),
      );
      inflight.add(run);
      void run.finally(() => inflight.delete(run));
    });
    post({ type: 'opened', inputs: session.inputs, outputs: session.outputs, provider: session.provider });
  },
  (e: unknown) => post({ type: 'error', id: 0, error: errorOf(e) }),
);
