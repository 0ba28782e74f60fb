import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * A worker thread on one of the sidecar's worker scripts: `dist/sidecar/<bundled>` next to the
 * bundle that runs (scripts/build.mjs builds each), else the TypeScript source `<source>` in
 * the same folder as the caller's module through tsx's require hook (tests run the sources).
 */
export function startWorker(dir: string, bundled: string, source: string, workerData: unknown): Worker {
  const bundle = path.join(dir, bundled);
  if (fs.existsSync(bundle)) return new Worker(bundle, { workerData });
  // Resolved here: an eval'd worker resolves modules from the process's working folder.
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(path.join(dir, source))});`, {
    eval: true,
    workerData,
  });
}
