/**
 * Feature extraction through onnxruntime into the content-keyed cache: the features equal the
 * model's, a second call reads the cache without opening the model, the key follows what the
 * features depend on, extraction resumes after a cancel or a crash, shards merge into the same
 * entry, and a full disk leaves nothing under a final name.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it, mock } from 'node:test';
import type { Dataset } from '../../sidecar/src/data/dataset';
import { loadTextDataset } from '../../sidecar/src/data/text';
import { downstreamSchema, type OnnxSourceSpec } from '../../core/node/experiment/schema';
import { exportDownstream } from '../../sidecar/src/export/downstream';
import { hashJson } from '../../sidecar/src/features/cache';
import {
  cacheKeyParts,
  extractOnnx,
  resolveOnnxFiles,
  type OnnxSourceRef,
} from '../../sidecar/src/features/onnxSource';
import { pool } from '../../sidecar/src/features/pooling';
import { loadTokenizer } from '../../sidecar/src/data/tokenizer';
import { createModel, modelWeights } from '../../sidecar/src/models/model';
import { readTidy } from '../../sidecar/src/train/evaluate';
import { OnnxSession } from '../../sidecar/src/runtime/onnx';
import { initBackend, tf } from '../../sidecar/src/runtime/tf';
import { AftError } from '../../core/common/util/errors';
import { Rng } from '../../sidecar/src/util/rng';
import { reviewsCsv, writeTinyBertFolder } from '../helpers/hf';
import { textDatasetSchemaForTests } from '../helpers/specs';

// The real module object (not an import wrapper), so that mocking writeSync reaches writeFileAtomic.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const realFs = require('node:fs') as typeof fs;

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cache-'));
const IN = 6;
let modelFile: string;
let ds: Dataset;
let reference: { train: Float32Array; test: Float32Array };

function spec(extra: Partial<OnnxSourceSpec> = {}): OnnxSourceSpec {
  return { model: modelFile, output: 'features', pooling: 'none', device: 'cpu', batch: 16, threads: 1, ...extra };
}
const ref = (extra: Partial<OnnxSourceSpec> = {}): OnnxSourceRef => ({
  name: 'src',
  index: 0,
  spec: spec(extra),
  baseDir: '/',
  kind: 'onnx',
});
const quiet = { log: (): void => {} };

function closeTo(a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `row ${i}: ${a[i]} vs ${b[i]}`);
}

function files(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

describe('feature extraction and cache', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
    const dir = tmp();
    const arch = downstreamSchema.parse({ model: 'mlp', hidden: [10, 5] });
    const model = createModel(arch, [IN], 3, 1);
    modelFile = path.join(dir, 'teacher-like.onnx');
    fs.writeFileSync(
      modelFile,
      exportDownstream(await modelWeights(model), {
        kind: 'mlp',
        inputShape: [IN],
        channels: [],
        hidden: [10, 5],
        numClasses: 3,
      }),
    );
    const rng = new Rng(5);
    const split = (n: number) => ({
      n,
      x: Float32Array.from({ length: n * IN }, () => rng.normal()),
      y: new Int32Array(n),
    });
    ds = { name: 'toy', inputShape: [IN], numClasses: 3, train: split(150), test: split(70) };
    const phi = async (x: Float32Array, n: number): Promise<Float32Array> =>
      (await readTidy(() => model.forward(tf.tensor(x, [n, IN])).phi)) as Float32Array;
    reference = { train: await phi(ds.train.x, 150), test: await phi(ds.test.x, 70) };
    model.dispose();
  });

  it('extracts the model’s features, then reads them from the cache without opening the model', async () => {
    const cacheRoot = tmp();
    const first = await extractOnnx(ref(), ds, { cacheRoot, chunkRows: 64, ...quiet });
    assert.deepEqual([first.cached, first.complete, first.extracted, first.provider], [false, true, 220, 'cpu']);
    closeTo(first.block!.train, reference.train);
    closeTo(first.block!.test, reference.test);
    assert.deepEqual(
      files(first.dir),
      ['features.safetensors', 'meta.json'],
      'chunks and plan are removed once merged',
    );
    const opened = mock.method(OnnxSession, 'open');
    try {
      const second = await extractOnnx(ref(), ds, { cacheRoot, ...quiet });
      assert.equal(second.cached, true);
      assert.equal(opened.mock.callCount(), 0);
      closeTo(second.block!.train, reference.train);
    } finally {
      opened.mock.restore();
    }
  });

  it('keys the cache by model bytes, output and pooling, preprocessing and dataset content', () => {
    const cacheRoot = tmp();
    const key = (r: OnnxSourceRef, d: Dataset = ds): string =>
      hashJson(cacheKeyParts(r, resolveOnnxFiles(r), d, cacheRoot));
    const base = key(ref());
    assert.equal(
      key(ref({ batch: 64, threads: 2, device: 'auto' })),
      base,
      'batch, threads and device do not change features',
    );
    assert.notEqual(key(ref({ output: 'logits' })), base);
    assert.notEqual(key(ref({ pooling: 'mean' })), base);
    const x = ds.test.x.slice();
    x[3] += 1;
    assert.notEqual(key(ref(), { ...ds, test: { ...ds.test, x } }), base);
    const copy = path.join(tmp(), 'copy.onnx');
    const bytes = fs.readFileSync(modelFile);
    bytes[bytes.length - 5] ^= 1; // one weight bit
    fs.writeFileSync(copy, bytes);
    assert.notEqual(key({ ...ref(), spec: spec({ model: copy }) }), base);
  });

  it('resumes after a cancel or a crash from the chunks already written', async () => {
    const cacheRoot = tmp();
    const controller = new AbortController();
    await assert.rejects(
      extractOnnx(ref(), ds, {
        cacheRoot,
        chunkRows: 32,
        signal: controller.signal,
        ...quiet,
        onProgress: (p) => void (p.done >= 96 && controller.abort()),
      }),
      (e: unknown) => e instanceof AftError && e.code === 'cancelled',
    );
    const dir = (await import('node:path')).join(
      cacheRoot,
      fs.readdirSync(cacheRoot).find((n) => n !== 'model-hashes')!,
    );
    const chunks = files(path.join(dir, 'chunks'));
    assert.deepEqual(chunks, ['0-32.safetensors', '32-64.safetensors', '64-96.safetensors']);
    assert.ok(!fs.existsSync(path.join(dir, 'meta.json')), 'an interrupted entry is not complete');
    // What a kill -9 in the middle of a write leaves: a temporary sibling, never a final name.
    fs.writeFileSync(path.join(dir, 'chunks', '96-128.safetensors.tmp-999-abc'), 'half a chunk');
    const resumed = await extractOnnx(ref(), ds, { cacheRoot, ...quiet });
    assert.deepEqual([resumed.complete, resumed.extracted], [true, 220 - 96]);
    closeTo(resumed.block!.train, reference.train);
    closeTo(resumed.block!.test, reference.test);
  });

  it('damaged chunks and entries are said, extracted again and never loaded', async () => {
    const cacheRoot = tmp();
    const logs: string[] = [];
    const log = (m: string): void => void logs.push(m);
    // Two of seven chunks, as shard 0 of 3 leaves them (0-32 and 96-128).
    const part = await extractOnnx(ref(), ds, { cacheRoot, chunkRows: 32, shard: { index: 0, count: 3 }, log });
    const chunks = path.join(part.dir, 'chunks');
    fs.truncateSync(path.join(chunks, '0-32.safetensors'), 700); // cut short under its final name
    const other = path.join(chunks, '96-128.safetensors');
    const bytes = fs.readFileSync(other);
    bytes[bytes.length - 1] ^= 0x40; // same size, one row changed
    fs.writeFileSync(other, bytes);
    const whole = await extractOnnx(ref(), ds, { cacheRoot, log });
    assert.equal(whole.complete, true);
    closeTo(whole.block!.train, reference.train);
    closeTo(whole.block!.test, reference.test);
    assert.ok(
      logs.some((l) => /chunk .*0-32\.safetensors is damaged/.test(l)),
      logs.join('\n'),
    );
    assert.ok(
      logs.some((l) => /chunk .*96-128\.safetensors is damaged \(its rows do not match the sha256/.test(l)),
      logs.join('\n'),
    );
    // The complete entry: its features must match the size and sha256 in meta.json.
    const feats = path.join(whole.dir, 'features.safetensors');
    const f = fs.readFileSync(feats);
    f[f.length - 1] ^= 0x40;
    fs.writeFileSync(feats, f);
    logs.length = 0;
    const again = await extractOnnx(ref(), ds, { cacheRoot, log });
    assert.deepEqual([again.cached, again.extracted], [false, 220]);
    closeTo(again.block!.test, reference.test);
    assert.ok(
      logs.some((l) =>
        /is damaged \(features\.safetensors does not match the sha256 in meta\.json\); extracting again/.test(l),
      ),
      logs.join('\n'),
    );
    fs.writeFileSync(path.join(again.dir, 'meta.json'), '{"format": "aft-fea');
    const third = await extractOnnx(ref(), ds, { cacheRoot, log });
    assert.equal(third.extracted, 220, 'an unreadable meta.json is not fatal: extracted again');
  });

  it('merges shards run separately (a cluster job array) into the same entry', async () => {
    const cacheRoot = tmp();
    const outs = [];
    for (let i = 0; i < 3; i++)
      outs.push(await extractOnnx(ref(), ds, { cacheRoot, chunkRows: 32, shard: { index: i, count: 3 }, ...quiet }));
    assert.deepEqual(
      outs.map((o) => [o.complete, o.extracted]),
      [
        [false, 92],
        [false, 64],
        [true, 64],
      ],
    );
    assert.deepEqual(outs[1].chunks, { present: 5, total: 7 });
    closeTo(outs[2].block!.train, reference.train);
    closeTo(outs[2].block!.test, reference.test);
  });

  it('leaves nothing under a final name when the disk fills up', async () => {
    const cacheRoot = tmp();
    const write = realFs.writeSync;
    // Writes of more than a few hundred bytes (chunks, not the small plan.json) hit a full disk.
    const enospc = mock.method(realFs, 'writeSync', (...args: unknown[]) => {
      if (args[1] instanceof Uint8Array && args[1].byteLength > 500)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return (write as (...a: unknown[]) => number)(...args);
    });
    try {
      await assert.rejects(
        extractOnnx(ref(), ds, { cacheRoot, chunkRows: 64, ...quiet }),
        /cannot write the feature cache file .*0-64\.safetensors: disk full: \d+ bytes needed.*; nothing partial was left under the final name \(free space and run again to resume\)/,
      );
    } finally {
      enospc.mock.restore();
    }
    const left = files(cacheRoot).filter((f) => f.includes('.safetensors') || f.endsWith('meta.json'));
    assert.deepEqual(left, [], 'no chunk, temporary file, features or meta.json');
    const again = await extractOnnx(ref(), ds, { cacheRoot, ...quiet });
    closeTo(again.block!.train, reference.train);
  });

  it('pads text batches and pools with the attention mask (same as one unpadded example at a time)', async () => {
    const dir = tmp();
    const folder = path.join(dir, 'bert');
    writeTinyBertFolder(folder);
    fs.writeFileSync(path.join(dir, 'r.csv'), reviewsCsv(24));
    const text = await loadTextDataset(
      textDatasetSchemaForTests({ source: 'text', train: path.join(dir, 'r.csv'), text: 'sentence', max_length: 12 }),
      '/',
      path.join(folder, 'tokenizer.json'),
    );
    const tok = loadTokenizer(path.join(folder, 'tokenizer.json'));
    const session = await OnnxSession.open(path.join(folder, 'onnx', 'model.onnx'), { device: 'cpu' });
    for (const pooling of ['mean', 'last', 'cls'] as const) {
      const out = await extractOnnx(
        {
          name: 'bert',
          index: 0,
          spec: { folder, pooling, device: 'cpu', batch: 8, threads: 1 },
          baseDir: '/',
          kind: 'onnx',
        },
        text,
        { cacheRoot: tmp(), ...quiet },
      );
      for (let r = 0; r < text.test.n; r++) {
        const ids = tok.encode(text.raw!.test[r], 12).ids;
        const T = ids.length;
        const res = await session.run({
          input_ids: { type: 'int64', data: BigInt64Array.from(ids.map(BigInt)), dims: [1, T] },
          attention_mask: { type: 'int64', data: new BigInt64Array(T).fill(1n), dims: [1, T] },
        });
        const want = pool(pooling, res.last_hidden_state.data as Float32Array, [1, T, 8]).data;
        closeTo(out.block!.test.subarray(r * 8, (r + 1) * 8), want);
      }
    }
    await session.release();
  });
});
