/**
 * Image folders and image preprocessing: formats, the three ways to split, unreadable images
 * (fail with names / skip with a count), empty classes, and the transformers-style pipeline
 * (shortest edge, centre crop, rescale, mean/std, NCHW/NHWC) checked on known pixels.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadImageFolder } from '../../sidecar/src/data/imageFolder';
import { imageDatasetSchemaForTests } from '../helpers/specs';
import {
  preprocessImage,
  preprocessImageInto,
  resolveImagePreprocess,
} from '../../sidecar/src/features/imagePreprocess';
import { encodeImage } from '../../sidecar/src/runtime/images';
import { AftError } from '../../core/common/util/errors';
import { imageBatches } from '../../sidecar/src/features/onnxInputs';
import { OnnxSession } from '../../sidecar/src/runtime/onnx';
import type { Dataset } from '../../sidecar/src/data/dataset';
import { tinyVitOnnx, VIT_PREPROCESSOR, writeImageFolder } from '../helpers/hf';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-img-'));
const spec = (folder: string, extra: Record<string, unknown> = {}) =>
  imageDatasetSchemaForTests({ source: 'images', folder, size: [8, 8], ...extra });
let folder: string;

describe('image folders', () => {
  before(async () => {
    folder = tmp();
    await writeImageFolder(folder, 6);
    fs.writeFileSync(path.join(folder, 'red', 'notes.txt'), 'not an image');
  });

  it('reads PNG, JPEG and WebP into NHWC floats, classes in sorted folder order', async () => {
    const logs: string[] = [];
    const ds = await loadImageFolder(spec(folder, { test_fraction: 0.34 }), '/', (m) => logs.push(m));
    assert.deepEqual(ds.inputShape, [8, 8, 3]);
    assert.equal(ds.numClasses, 3);
    assert.equal(ds.train.n + ds.test.n, 18);
    // Stratified: two of six per class in the test split.
    assert.deepEqual(
      [0, 1, 2].map((c) => ds.test.y.filter((y) => y === c).length),
      [2, 2, 2],
    );
    assert.ok(ds.raw?.kind === 'images' && ds.raw.test.every((f) => fs.existsSync(f)));
    // Classes sorted: blue, green, red; the red images are red.
    const red = ds.train.y.indexOf(2);
    assert.ok(ds.train.x[red * 192] > 0.5 && ds.train.x[red * 192 + 2] < 0.5);
    assert.ok(
      logs.some((l) => /ignored 1 file that are not PNG, JPEG or WebP/.test(l)),
      logs.join('\n'),
    );
    assert.ok(ds.contentHash && ds.contentHash.train !== ds.contentHash.test);
  });

  it('seeded splits change with the seed; fixed splits keep a file on its side when files are added', async () => {
    const a = await loadImageFolder(spec(folder, { split_seed: 0 }), '/');
    const b = await loadImageFolder(spec(folder, { split_seed: 1 }), '/');
    assert.notDeepEqual(a.raw!.test, b.raw!.test);
    const copy = tmp();
    fs.cpSync(folder, copy, { recursive: true });
    const before = await loadImageFolder(spec(copy, { split: 'fixed', test_fraction: 0.5 }), '/');
    await writeImageFolder(path.join(copy, 'extra'), 2, 9, ['red', 'green', 'blue']);
    fs.cpSync(path.join(copy, 'extra'), copy, { recursive: true });
    fs.rmSync(path.join(copy, 'extra'), { recursive: true });
    const after = await loadImageFolder(spec(copy, { split: 'fixed', test_fraction: 0.5 }), '/');
    for (const f of before.raw!.test) assert.ok(after.raw!.test.includes(f), `${f} moved to train`);
  });

  it('uses train/ and test/ folders when present', async () => {
    const root = tmp();
    await writeImageFolder(path.join(root, 'train'), 3, 5, ['cat', 'dog']);
    await writeImageFolder(path.join(root, 'test'), 2, 6, ['cat', 'dog']);
    const ds = await loadImageFolder(spec(root), '/');
    assert.deepEqual([ds.train.n, ds.test.n, ds.numClasses], [6, 4, 2]);
  });

  it('fails on unreadable images with their names, or skips them with a count', async () => {
    const root = tmp();
    fs.cpSync(folder, root, { recursive: true });
    fs.writeFileSync(path.join(root, 'green', 'broken.png'), 'PNG? no');
    const jpg = fs.readFileSync(path.join(root, 'blue', 'blue-0.webp'));
    fs.writeFileSync(path.join(root, 'blue', 'cut.webp'), jpg.subarray(0, 20));
    await assert.rejects(loadImageFolder(spec(root), '/'), (e: unknown) => {
      assert.ok(e instanceof AftError && e.code === 'bad_input');
      assert.match(e.message, /2 images could not be decoded/);
      assert.ok(
        e.details?.some((d) => d.startsWith(path.join('green', 'broken.png'))) &&
          e.details.some((d) => d.startsWith(path.join('blue', 'cut.webp'))),
        e.details?.join('\n'),
      );
      return true;
    });
    const logs: string[] = [];
    const ds = await loadImageFolder(spec(root, { unreadable: 'skip' }), '/', (m) => logs.push(m));
    assert.equal(ds.train.n + ds.test.n, 18);
    assert.ok(logs.some((l) => /skipped 2 unreadable images/.test(l)));
  });

  const bad: [string, (root: string) => void, RegExp][] = [
    ['an empty class folder', (r) => fs.mkdirSync(path.join(r, 'yellow')), /class folder 'yellow' has no images/],
    [
      'a single class',
      (r) => ['green', 'blue'].forEach((c) => fs.rmSync(path.join(r, c), { recursive: true })),
      /one subfolder per class \(at least two\), found only 'red'/,
    ],
    ['a missing folder', (r) => fs.rmSync(r, { recursive: true }), /image folder not found/],
  ];
  for (const [name, spoil, pattern] of bad) {
    it(`refuses ${name}`, async () => {
      const root = tmp();
      fs.cpSync(folder, root, { recursive: true });
      spoil(root);
      await assert.rejects(
        loadImageFolder(spec(root), '/'),
        (e: unknown) => e instanceof AftError && pattern.test(e.message) && e.location?.field === 'dataset.folder',
      );
    });
  }
});

describe('image preprocessing (transformers-style)', () => {
  const input = { name: 'pixel_values', type: 'float32', shape: ['batch', 3, 16, 16] as (number | string)[] };

  it('reads preprocessor_config.json: shortest edge, centre crop, rescale, mean/std, NCHW', async () => {
    const p = resolveImagePreprocess(VIT_PREPROCESSOR, undefined, input, { file: 'x', field: 'y' });
    assert.deepEqual(p.resize, { mode: 'shortest', edge: 20 });
    assert.deepEqual([p.crop, p.layout, p.channels, p.resample], [[16, 16], 'nchw', 3, 'bicubic']);
    // A uniform 40x30 image: every value is (v/255 - 0.5)/0.25, channel-major.
    const png = await encodeImage(
      { data: new Uint8Array(40 * 30 * 3).map((_, i) => [255, 0, 51][i % 3]), width: 40, height: 30, channels: 3 },
      'png',
    );
    const v = await preprocessImage(png, p);
    assert.equal(v.length, 3 * 16 * 16);
    const expected = [(1 - 0.5) / 0.25, (0 - 0.5) / 0.25, (0.2 - 0.5) / 0.25];
    for (let c = 0; c < 3; c++)
      for (const k of [0, 100, 255]) assert.ok(Math.abs(v[c * 256 + k] - expected[c]) < 1e-5, `channel ${c}`);
  });

  // The fast loop against the plain definition: crop at the centre (padding with the value of a 0
  // pixel where the image is smaller), rescale, normalise, channel order.
  const layouts: [string, { w: number; h: number; C: 1 | 3; H: number; W: number; layout: 'nchw' | 'nhwc' }][] = [
    ['a larger image, NCHW', { w: 37, h: 29, C: 3, H: 16, W: 20, layout: 'nchw' }],
    ['a larger image, NHWC', { w: 37, h: 29, C: 3, H: 16, W: 20, layout: 'nhwc' }],
    ['a smaller image (padded on every side), NCHW', { w: 9, h: 7, C: 3, H: 16, W: 12, layout: 'nchw' }],
    ['taller than wide, grey, NHWC', { w: 8, h: 30, C: 1, H: 12, W: 12, layout: 'nhwc' }],
  ];
  for (const [name, g] of layouts) {
    it(`crops and normalises like the plain definition: ${name}`, async () => {
      const pixels = new Uint8Array(g.w * g.h * g.C).map((_, i) => (i * 37 + 11) % 256);
      const png = await encodeImage({ data: pixels, width: g.w, height: g.h, channels: g.C }, 'png');
      const p = {
        resample: 'bilinear' as const,
        rescale: 1 / 255,
        mean: [0.4, 0.5, 0.6],
        std: [0.2, 0.25, 0.3],
        layout: g.layout,
        channels: g.C,
        height: g.H,
        width: g.W,
      };
      const size = g.C * g.H * g.W;
      const out = new Float32Array(size + 10).fill(-99);
      await preprocessImageInto(png, p, out, 5);
      assert.deepEqual(
        [...out.subarray(0, 5), ...out.subarray(5 + size)],
        new Array<number>(10).fill(-99),
        'nothing written outside the image slot',
      );
      const top = Math.floor((g.h - g.H) / 2);
      const left = Math.floor((g.w - g.W) / 2);
      for (let c = 0; c < g.C; c++) {
        for (let y = 0; y < g.H; y++) {
          for (let x = 0; x < g.W; x++) {
            const sy = y + top;
            const sx = x + left;
            const v = sy >= 0 && sy < g.h && sx >= 0 && sx < g.w ? pixels[(sy * g.w + sx) * g.C + c] : 0;
            const want = (v / 255 - p.mean[c]) / p.std[c];
            const at = 5 + (g.layout === 'nchw' ? (c * g.H + y) * g.W + x : (y * g.W + x) * g.C + c);
            assert.ok(Math.abs(out[at] - want) < 1e-5, `c${c} y${y} x${x}: ${out[at]} vs ${want}`);
          }
        }
      }
    });
  }

  it('fills recycled batch memory again with exactly what new memory would hold', async () => {
    const dir = tmp();
    const model = path.join(dir, 'vit.onnx');
    fs.writeFileSync(model, tinyVitOnnx());
    const session = await OnnxSession.open(model, { device: 'cpu' });
    const files: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = path.join(dir, `${i}.png`);
      fs.writeFileSync(
        f,
        await encodeImage(
          {
            data: new Uint8Array(24 * 22 * 3).map((_, k) => (k * (7 + i) + 31 * i) % 256),
            width: 24,
            height: 22,
            channels: 3,
          },
          'png',
        ),
      );
      files.push(f);
    }
    const none = { n: 0, x: new Float32Array(0), y: new Int32Array(0) };
    const ds: Dataset = {
      name: 'five',
      inputShape: [16, 16, 3],
      numClasses: 1,
      train: { n: 5, x: new Float32Array(0), y: new Int32Array(5) },
      test: none,
      raw: { kind: 'images', train: files, test: [] },
    };
    const input = session.input(undefined, 'x');
    const p = resolveImagePreprocess(VIT_PREPROCESSOR, undefined, input, { file: 'x', field: 'y' });
    const size = 3 * 16 * 16;
    const fresh = async (rows: number[]): Promise<number[]> =>
      (await Promise.all(rows.map((r) => preprocessImage(files[r], p)))).flatMap((v) => [...v]);
    const batches = imageBatches(session, input, ds, p);
    const first = await batches.prepare(0, 3);
    const memory = first.feeds.pixel_values.data.buffer;
    assert.deepEqual([...first.feeds.pixel_values.data], await fresh([0, 1, 2]));
    batches.recycle!(first.feeds);
    // A shorter batch takes the front of the recycled memory; nothing of the old batch shows.
    const second = await batches.prepare(3, 5);
    assert.equal(second.feeds.pixel_values.data.buffer, memory, 'the recycled memory is used again');
    assert.deepEqual(second.feeds.pixel_values.dims, [2, 3, 16, 16]);
    assert.equal(second.feeds.pixel_values.data.length, 2 * size);
    assert.deepEqual([...second.feeds.pixel_values.data], await fresh([3, 4]));
    // Only whole arrays come back: a view into the middle of some memory is not kept.
    batches.recycle!({
      pixel_values: {
        type: 'float32',
        data: new Float32Array(memory.byteLength / 4).subarray(size),
        dims: [2, 3, 16, 16],
      },
    });
    const third = await batches.prepare(0, 3);
    assert.notEqual(third.feeds.pixel_values.data.buffer, memory);
    assert.deepEqual([...third.feeds.pixel_values.data], await fresh([0, 1, 2]));
    await session.release();
  });

  it('takes the size and layout from the model when there is no config; overrides win', () => {
    const nhwc = { name: 'x', type: 'float32', shape: ['n', 24, 32, 1] as (number | string)[] };
    const p = resolveImagePreprocess(undefined, undefined, nhwc, { file: 'x', field: 'y' });
    assert.deepEqual(
      [p.layout, p.channels, p.height, p.width, p.rescale, p.resize],
      ['nhwc', 1, 24, 32, 1 / 255, { mode: 'exact', height: 24, width: 32 }],
    );
    const q = resolveImagePreprocess(VIT_PREPROCESSOR, { mean: [0.1], std: [0.2], resample: 'nearest' }, input, {
      file: 'x',
      field: 'y',
    });
    assert.deepEqual([q.mean, q.std, q.resample], [[0.1], [0.2], 'nearest']);
  });

  it('refuses preprocessing that cannot give the model its input size', () => {
    assert.throws(
      () =>
        resolveImagePreprocess({ ...VIT_PREPROCESSOR, crop_size: { height: 20, width: 20 } }, undefined, input, {
          file: 'cfg',
          field: 'pretrained[0].onnx.preprocess',
        }),
      /gives 20x20 images but input 'pixel_values' expects 16x16/,
    );
    assert.throws(
      () =>
        resolveImagePreprocess(
          undefined,
          undefined,
          { ...input, shape: ['n', 3, 'h', 'w'] },
          { file: 'cfg', field: 'f' },
        ),
      /set `preprocess.size` or `preprocess.crop`/,
    );
  });
});
