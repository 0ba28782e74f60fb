/**
 * The worker thread behind `encodeTexts` (data/tokenizer.ts): loads a tokenizer.json and
 * tokenises a list of texts, saying how far it got at least every 100 ms, so that the main
 * thread can end it when a text makes it stall. Bundled as dist/sidecar/tokenizer-worker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AftError } from '../../../core/common/util/errors';
import { loadTokenizer, type TokenizerWorkerData, type TokenizerWorkerReply } from './tokenizer';

const port = parentPort;
if (!port) throw new Error('tokenizerWorker.ts runs as a worker thread only');
const post = (m: TokenizerWorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

const { file, field, texts, maxLength } = workerData as TokenizerWorkerData;
try {
  const tok = loadTokenizer(file, field);
  post({ type: 'ready' });
  const encoded: number[][] = [];
  let last = performance.now();
  let total = 0;
  for (let i = 0; i < texts.length; i++) {
    const ids = tok.encode(texts[i], maxLength).ids;
    encoded.push(ids);
    total += ids.length;
    const now = performance.now();
    if (now - last > 100) {
      last = now;
      post({ type: 'progress', done: i + 1 });
    }
  }
  const ids = new Int32Array(total);
  const offsets = new Int32Array(texts.length + 1);
  encoded.forEach((e, i) => {
    ids.set(e, offsets[i]);
    offsets[i + 1] = offsets[i] + e.length;
  });
  post({ type: 'done', ids, offsets }, [ids.buffer, offsets.buffer]);
} catch (e) {
  post({
    type: 'error',
    error:
      e instanceof AftError
        ? { message: e.message, code: e.code, ...(e.location ? { location: e.location } : {}) }
        : { message: e instanceof Error ? e.message : String(e) },
  });
}
