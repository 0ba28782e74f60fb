/**
 * The wasm backend's threads in Node: with its products on XNNPACK (`AFT_WASM_PRODUCTS=xnnpack`),
 * the threaded build (sidecar/src/runtime/wasmThreads.ts) starts with the threads asked for; with
 * them on onnxruntime (the default, runtime/ortKernels.ts), onnxruntime's sessions get the threads.
 * Either way it computes what one thread computes and never keeps a process alive. Each case is a
 * fresh Node process, since a backend starts once per process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.join(__dirname, '..', '..');
// A dense layer's forward and both gradients at the shapes of a training step (batch 128).
const PROBE = `
const { initBackend, tf } = require(${JSON.stringify(path.join(ROOT, 'sidecar', 'src', 'runtime', 'tf.ts'))});
(async () => {
  const b = await initBackend('wasm');
  const rnd = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const x = rnd([128, 784], 1), w = rnd([784, 512], 2), g = rnd([128, 512], 3);
  const out = [tf.matMul(x, w), tf.matMul(g, w, false, true), tf.matMul(x, g, true, false)].map((t) => Array.from(t.dataSync()));
  process.stdout.write(JSON.stringify({ description: b.description, out }));
})();
`;

function probe(threads: string, products: string): { description: string; out: number[][]; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=commonjs', '-e', PROBE], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, AFT_WASM_THREADS: threads, AFT_WASM_PRODUCTS: products },
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `the probe failed (signal ${r.signal}): ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as { description: string; out: number[][] }), ms: performance.now() - t0 };
}

describe('wasm backend threads', () => {
  for (const [products, oneThread, twoThreads] of [
    [
      'xnnpack',
      /SIMD, 1 thread; products and convolutions on XNNPACK/,
      /SIMD, 2 threads; products and convolutions on XNNPACK/,
    ],
    [
      'onnxruntime',
      /on onnxruntime \(MLAS, 1 thread\)/,
      /SIMD, 1 thread; products and convolutions on onnxruntime \(MLAS, 2 threads\)/,
    ],
  ] as const)
    it(`products on ${products}: two threads when asked, computing what one thread computes, and the process ends`, () => {
      const one = probe('1', products);
      const two = probe('2', products);
      assert.match(one.description, oneThread, one.description);
      assert.match(two.description, twoThreads, two.description);
      two.out.forEach((values, k) => {
        const scale = one.out[k].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const worst = values.reduce((m, v, i) => Math.max(m, Math.abs(v - one.out[k][i])), 0);
        assert.ok(worst <= 1e-5 * scale, `product ${k}: ${worst} apart (scale ${scale})`);
      });
      // spawnSync returned, so the process ended by itself: its pool workers did not hold it.
      assert.ok(two.ms < 60_000);
    });
});
