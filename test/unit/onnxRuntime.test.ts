/**
 * The onnxruntime boundary refuses bad models and bad feeds with the path and the names or
 * shapes it expected, and falls back from CUDA to the CPU with the reason logged.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  cudaProviderInstalled,
  OnnxSession,
  ThreadedOnnxSession,
  type OnnxRunner,
  type OnnxSessionOptions,
} from '../../sidecar/src/runtime/onnx';
import { AftError } from '../../core/common/util/errors';
import { tinyVitOnnx } from '../helpers/hf';
import { requestAdapter } from '../../sidecar/src/runtime/webgpu';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-ort-'));
const good = path.join(dir, 'vit.onnx');
fs.writeFileSync(good, tinyVitOnnx());

const isBadInput =
  (pattern: RegExp, file?: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof AftError, String(e));
    assert.equal(e.code, 'bad_input');
    assert.match(e.message, pattern);
    if (file) assert.equal(e.location?.file, file);
    return true;
  };

// Every check holds for a session in this thread and for one in a worker thread (extraction's).
const kinds: [string, (file: string, opts: OnnxSessionOptions) => Promise<OnnxRunner>][] = [
  ['in this thread', (f, o) => OnnxSession.open(f, o)],
  ['in a worker thread', (f, o) => ThreadedOnnxSession.open(f, o)],
];

for (const [kind, open] of kinds)
  describe(`onnxruntime sessions ${kind}`, () => {
    const broken: [string, (f: string) => void, RegExp][] = [
      ['a missing file', () => {}, /ONNX model not found/],
      [
        'random bytes',
        (f) => fs.writeFileSync(f, Buffer.from('this is not a protobuf at all, just text\n'.repeat(20))),
        /cannot load the ONNX model \(820 bytes; corrupt, truncated or not ONNX\?\): .*Protobuf parsing failed/,
      ],
      [
        'a truncated model',
        (f) => fs.writeFileSync(f, fs.readFileSync(good).subarray(0, 700)),
        /cannot load the ONNX model \(700 bytes/,
      ],
      ['an empty file', (f) => fs.writeFileSync(f, ''), /cannot load the ONNX model/],
    ];
    for (const [name, make, pattern] of broken) {
      it(`refuses ${name} with the path`, async () => {
        const f = path.join(dir, `${name.replace(/\W+/g, '-')}.onnx`);
        make(f);
        await assert.rejects(open(f, { device: 'cpu' }), isBadInput(pattern, f));
      });
    }

    it('lists the names a model has when asked for one it lacks', async () => {
      const s = await open(good, { device: 'cpu' });
      assert.throws(
        () => s.input('pixels', 'pretrained[0].onnx.input'),
        isBadInput(/no input 'pixels'; its inputs are: pixel_values float32\[batch, 3, 16, 16\]/),
      );
      assert.throws(
        () => s.output('logits', 'pretrained[0].onnx.output'),
        isBadInput(
          /no output 'logits'; its outputs are: last_hidden_state float32\[batch, 16, 8\], pooler_output float32\[batch, 8\]/,
        ),
      );
      assert.equal(s.input(undefined, 'x').name, 'pixel_values');
      assert.equal(s.output(undefined, 'x').name, 'last_hidden_state');
      await s.release();
    });

    it('says expected vs got for a feed of the wrong shape or type', async () => {
      const s = await open(good, { device: 'cpu' });
      await assert.rejects(
        s.run({ pixel_values: { type: 'float32', data: new Float32Array(2 * 3 * 8 * 8), dims: [2, 3, 8, 8] } }),
        isBadInput(/input 'pixel_values' expects shape \[batch, 3, 16, 16\] but got \[2, 3, 8, 8\]/),
      );
      await assert.rejects(
        s.run({ pixel_values: { type: 'int32', data: new Int32Array(3 * 16 * 16), dims: [1, 3, 16, 16] } }),
        isBadInput(/expects float32 values but got int32/),
      );
      await assert.rejects(s.run({}), isBadInput(/no value given for the model's input pixel_values/));
      const out = await s.run(
        { pixel_values: { type: 'float32', data: new Float32Array(2 * 3 * 16 * 16), dims: [2, 3, 16, 16] } },
        ['pooler_output'],
      );
      assert.deepEqual(out.pooler_output.dims, [2, 8]);
      await s.release();
    });
  });

describe('onnxruntime sessions: the worker thread', () => {
  it('gives the same outputs as a session in this thread, and leaves this thread free while it runs', async () => {
    const here = await OnnxSession.open(good, { device: 'cpu' });
    const there = await ThreadedOnnxSession.open(good, { device: 'cpu' });
    // Large enough that a run takes tens of milliseconds.
    const rows = 2048;
    const data = Float32Array.from({ length: rows * 3 * 16 * 16 }, (_, i) => Math.sin(i));
    const feeds = { pixel_values: { type: 'float32' as const, data, dims: [rows, 3, 16, 16] } };
    const a = await here.run(feeds);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    const b = await there.run(feeds);
    const ms = performance.now() - started;
    clearInterval(timer);
    for (const name of ['last_hidden_state', 'pooler_output']) {
      assert.deepEqual(b[name].dims, a[name].dims);
      assert.deepEqual(b[name].data, a[name].data, `${name} is the same`);
    }
    assert.equal(data[5], Math.fround(Math.sin(5)), 'the feeds are the caller’s still (copied, not moved)');
    // In this thread a run lets no timer fire until it returns (at most one tick, at the end).
    assert.ok(ticks >= Math.min(10, ms / 10), `timers ran while the model ran (${ticks} ticks in ${ms.toFixed(0)} ms)`);
    await here.release();
    await there.release();
  });

  it('releases only after the runs queued before the release are answered (as when an extraction stops)', async () => {
    // onnxruntime-node starts a run in a setImmediate callback: a release handled before it, and
    // the thread ended under it, aborted the whole process now and then. Here a release follows
    // two queued runs at once, many times; the process must live and the runs be answered.
    const feeds = (): { pixel_values: { type: 'float32'; data: Float32Array; dims: number[] } } => ({
      pixel_values: { type: 'float32', data: new Float32Array(4 * 3 * 16 * 16).fill(0.5), dims: [4, 3, 16, 16] },
    });
    for (let i = 0; i < 25; i++) {
      const s = await ThreadedOnnxSession.open(good, { device: 'cpu' });
      const runs = [s.runMoved(feeds()), s.runMoved(feeds())];
      await s.release();
      const answered = await Promise.allSettled(runs);
      assert.deepEqual(
        answered.map((r) => r.status),
        ['fulfilled', 'fulfilled'],
        `round ${i}`,
      );
      await assert.rejects(s.run(feeds()), /exited|released/, 'a run after the release is refused');
    }
  });
});

describe('onnxruntime sessions: moved feeds', () => {
  for (const [kind, open] of kinds) {
    it(`${kind}: gives the same outputs as a copied run and hands the same memory back, values intact`, async () => {
      const s = await open(good, { device: 'cpu' });
      const rows = 64;
      const data = Float32Array.from({ length: rows * 3 * 16 * 16 }, (_, i) => Math.cos(i));
      const expected = await s.run({ pixel_values: { type: 'float32', data, dims: [rows, 3, 16, 16] } });
      const buffer = data.buffer;
      const pending = s.runMoved({ pixel_values: { type: 'float32', data, dims: [rows, 3, 16, 16] } });
      // Moved to a worker: detached here until it comes back; in this thread nothing moves.
      assert.equal(data.length === 0, kind === 'in a worker thread', `detached while it runs: ${data.length === 0}`);
      const { outputs, feeds } = await pending;
      assert.deepEqual(outputs.pooler_output.data, expected.pooler_output.data);
      assert.deepEqual(outputs.last_hidden_state.dims, expected.last_hidden_state.dims);
      const back = feeds.pixel_values;
      assert.deepEqual(back.dims, [rows, 3, 16, 16]);
      assert.equal(back.data.length, rows * 3 * 16 * 16);
      assert.equal(back.data[7], Math.fround(Math.cos(7)), 'the values came back as they went');
      if (kind === 'in this thread') assert.equal(back.data.buffer, buffer);
      // The memory that came back runs again.
      const again = await s.runMoved(feeds, ['pooler_output']);
      assert.deepEqual(again.outputs.pooler_output.data, expected.pooler_output.data);
      await s.release();
    });
  }

  it('refuses a bad feed before moving it, leaving the caller its array', async () => {
    const s = await ThreadedOnnxSession.open(good, { device: 'cpu' });
    const data = new Float32Array(2 * 3 * 8 * 8);
    await assert.rejects(
      s.runMoved({ pixel_values: { type: 'float32', data, dims: [2, 3, 8, 8] } }),
      isBadInput(/expects shape \[batch, 3, 16, 16\] but got \[2, 3, 8, 8\]/),
    );
    assert.equal(data.length, 2 * 3 * 8 * 8);
    await s.release();
  });
});

describe('onnxruntime sessions: providers', () => {
  it('auto falls back to the CPU and says why; cuda alone is an error when it cannot start', async (t) => {
    if (cudaProviderInstalled().installed) return t.skip('this machine has the CUDA provider (see docs/gpu-check.md)');
    const logs: string[] = [];
    const s = await OnnxSession.open(good, { device: 'auto', log: (m) => logs.push(m) });
    const adapter = await requestAdapter().then(
      (a) => a.info,
      () => undefined,
    );
    // A GPU WebGPU adapter takes auto; a software one (lavapipe in CI) or none leaves it to the CPU.
    assert.equal(s.provider, adapter && !adapter.software ? 'webgpu' : 'cpu');
    await s.release();
    if (s.provider === 'cpu')
      assert.ok(
        logs.some((l) => /on CPU \(.*CUDA.*; .*WebGPU/.test(l)),
        logs.join('\n'),
      );
    await assert.rejects(
      OnnxSession.open(good, { device: 'cuda' }),
      isBadInput(
        /device cuda was asked for but the CUDA provider \(libonnxruntime_providers_cuda\.so\) is not installed/,
      ),
    );
  });
});
