/**
 * Pre-trained student folders that must be refused, each with a message that names what is
 * wrong (the file or field, what was expected, what was found), and the conversions that are
 * accepted (fp16/bf16 weights, a missing num_batches_tracked).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../../core/node/experiment/schema';
import { readSafetensors } from '../../../core/node/io/safetensors';
import { AftError } from '../../../core/common/util/errors';
import { createPretrainedStudent, readHubFolder, studentImagePreprocess } from '../../../sidecar/src/models/pretrained';
import { initBackend, tf } from '../../../sidecar/src/runtime/tf';
import { loadExperimentDataset } from '../../../sidecar/src/data/load';
import { preprocessImage } from '../../../sidecar/src/features/imagePreprocess';
import { timmImagePreprocess } from '../../../core/node/students/timmPreprocess';
import { encodeImage } from '../../../sidecar/src/runtime/images';
import { experimentSchema } from '../../../core/node/experiment/schema';
import { writeImageFolder } from '../../helpers/hf';
import { studentVariant, type FolderChange } from '../../helpers/studentFolders';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-pretrained-'));
let counter = 0;

type Config = Record<string, unknown> & { pretrained_cfg: Record<string, unknown> };

/** A copy of a fixture folder (resnet18-tiny unless `from`) with its config and tensors changed. */
function variant(change: FolderChange<Config> & { from?: string } = {}): string {
  return studentVariant(change.from ?? 'resnet18-tiny', path.join(tmp, `v${counter++}`), change);
}

function refused(f: () => unknown, message: RegExp, details: RegExp[] = []): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof AftError && e.code === 'bad_input', String(e));
    assert.match(e.message, message);
    for (const d of details)
      assert.ok(
        e.details?.some((x) => d.test(x)),
        `no detail matches ${d}: ${JSON.stringify(e.details)}`,
      );
    return true;
  });
}

const spec = (folder: string, extra: Record<string, unknown> = {}) =>
  downstreamSchema.parse({ model: 'pretrained', folder, ...extra });

describe('pre-trained student folders', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('accepts the fixture and infers architecture, width, channels and classes', () => {
    const hub = readHubFolder(path.join(fixtures, 'resnet50-tiny'));
    assert.deepEqual(hub.shape, { arch: 'resnet50', width: 4, inChannels: 3, numClasses: 10 });
  });

  it('refuses an unknown architecture, listing the known ones', () => {
    refused(
      () => readHubFolder(variant({ config: (c) => (c.architecture = 'resnet19') })),
      /unknown architecture `resnet19` \(did you mean `resnet18`\?\); the known ones are resnet18, resnet34, resnet50, resnet101, resnet152/,
    );
    refused(
      () => readHubFolder(variant({ config: (c) => (c.architecture = 'mobilenetv3_large_100') })),
      /unknown architecture `mobilenetv3_large_100`; the known ones are resnet18/,
    );
  });

  it('names a missing tensor with its shape', () => {
    refused(
      () => readHubFolder(variant({ tensors: (t) => delete t['layer3.1.bn2.running_var'] })),
      /does not match a resnet18 of width 8 with 10 classes \(1 problem\)/,
      [/^missing: layer3\.1\.bn2\.running_var \[32\]$/],
    );
  });

  it('names an extra tensor', () => {
    refused(
      () =>
        readHubFolder(
          variant({
            tensors: (t) => (t['layer5.0.conv1.weight'] = { shape: [2, 2, 1, 1], data: new Float32Array(4) }),
          }),
        ),
      /1 problem/,
      [/^unexpected: layer5\.0\.conv1\.weight \[2, 2, 1, 1\]$/],
    );
  });

  it('names a mis-shaped tensor, expected vs got', () => {
    refused(
      () =>
        readHubFolder(
          variant({
            tensors: (t) =>
              (t['layer2.0.conv1.weight'] = { shape: [16, 8, 5, 5], data: new Float32Array(16 * 8 * 25) }),
          }),
        ),
      /1 problem/,
      [/^mis-shaped: layer2\.0\.conv1\.weight expected \[16, 8, 3, 3\], got \[16, 8, 5, 5\]$/],
    );
  });

  it('says when the weights are of another architecture than config.json names', () => {
    refused(
      () => readHubFolder(variant({ from: 'resnet50-tiny', config: (c) => (c.architecture = 'resnet18') })),
      /they are the weights of a resnet50: does config\.json's architecture say the wrong one\?/,
      [/^missing: layer1\.0\.conv1\.weight|^mis-shaped: /, /^unexpected: layer1\.0\.conv3\.weight/],
    );
  });

  it('refuses a config that contradicts the weights, naming the field', () => {
    refused(
      () => readHubFolder(variant({ config: (c) => (c.num_classes = 1000) })),
      /config\.json says num_classes 1000, but fc\.weight has 10 rows/,
    );
    refused(
      () => readHubFolder(variant({ config: (c) => (c.num_features = 512) })),
      /config\.json says num_features 512, but a resnet18 with conv1 of width 8 has 64/,
    );
    refused(
      () => readHubFolder(variant({ config: (c) => (c.pretrained_cfg.input_size = [1, 36, 36]) })),
      /input_size has 1 channels, but conv1\.weight takes 3/,
    );
    refused(
      () => readHubFolder(variant({ config: (c) => (c.pretrained_cfg.num_classes = 1000) })),
      /pretrained_cfg says num_classes 1000, but the model has 10 classes/,
    );
    refused(() => readHubFolder(variant({ config: (c) => (c.global_pool = 'max') })), /only average pooling/);
    refused(
      () => readHubFolder(variant({ config: (c) => (c.pretrained_cfg.classifier = 'head.fc') })),
      /a resnet18 has `fc` here, got "head\.fc"/,
    );
  });

  it('refuses bad preprocessing fields of pretrained_cfg, naming them', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ crop_pct: 0 }, /crop_pct.*expected a number in \(0, 1\]/],
      [{ interpolation: 'area' }, /interpolation.*expected one of nearest, bilinear, bicubic, lanczos, got "area"/],
      [{ mean: [0.5, 0.5] }, /mean.*expected 3 numbers/],
      [{ crop_mode: 'border' }, /crop_mode.*`border` is not supported/],
    ];
    for (const [change, pattern] of bad) {
      const dir = variant({ config: (c) => Object.assign(c.pretrained_cfg, change) });
      assert.throws(
        () => studentImagePreprocess({ folder: dir }, '/'),
        (e: unknown) => e instanceof AftError && pattern.test(`${e.location?.field ?? ''} ${e.message}`),
      );
    }
  });

  it('refuses pickled weights, saying how to convert them', () => {
    const dir = path.join(tmp, 'pickled');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'resnet18-tiny', 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), Buffer.from('\x80\x02}q\x00.', 'latin1'));
    refused(
      () => readHubFolder(dir),
      /the weights are pickled \(pytorch_model\.bin\); aft reads only model\.safetensors, because loading a pickle runs code/,
      [/torch\.load\('pytorch_model\.bin'.*save_file\(.*'model\.safetensors'\)/],
    );
  });

  it('refuses a folder without config.json or weights, or no folder', () => {
    const dir = path.join(tmp, 'no-config');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'resnet18-tiny', 'model.safetensors'), path.join(dir, 'model.safetensors'));
    refused(() => readHubFolder(dir), /no config\.json/);
    refused(() => readHubFolder(path.join(tmp, 'absent')), /folder not found/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    refused(() => readHubFolder(empty), /no model\.safetensors/);
  });

  it('refuses `head: keep` with another number of classes, and inputs the stem cannot read', () => {
    const folder = path.join(fixtures, 'resnet18-tiny');
    refused(
      () => createPretrainedStudent(spec(folder, { head: 'keep' }), [36, 36, 3], 4, 0),
      /`head: keep` needs the model's classes to be the dataset's: the model has 10, the dataset 4/,
    );
    refused(
      () => createPretrainedStudent(spec(folder), [28, 28, 1], 10, 0),
      /reads images \[height, width, 3\].*\[28, 28, 1\]/,
    );
  });

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`converts ${dtype} weights to float32 (and says so)`, () => {
      const dir = variant({
        tensors: (t) => Object.values(t).forEach((x) => (x.dtype = x.shape.length === 0 ? 'I64' : dtype)),
      });
      const logs: string[] = [];
      const ref = readSafetensors(path.join(fixtures, 'resnet18-tiny.reference.safetensors')).tensors;
      const model = createPretrainedStudent(spec(dir, { head: 'keep' }), [36, 36, 3], 10, 0, (m) => logs.push(m));
      try {
        assert.ok(
          logs.some((l) => new RegExp(`\\d+ ${dtype} tensors converted to float32`).test(l)),
          logs.join('\n'),
        );
        const got = tf.tidy(() =>
          model.forward(tf.transpose(tf.tensor(ref.input.data, ref.input.shape), [0, 2, 3, 1])).logits.dataSync(),
        );
        const want = ref['eval.logits'].data;
        const scale = Math.max(...Array.from(want, Math.abs));
        const err = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]))) / scale;
        assert.ok(err < (dtype === 'F16' ? 1e-2 : 5e-2), `logits off by ${err}`);
      } finally {
        model.dispose();
      }
    });
  }

  it('starts num_batches_tracked at 0 when the weights leave it out', () => {
    const dir = variant({
      tensors: (t) =>
        Object.keys(t)
          .filter((k) => k.endsWith('num_batches_tracked'))
          .forEach((k) => delete t[k]),
    });
    const model = createPretrainedStudent(spec(dir, { head: 'keep' }), [36, 36, 3], 10, 0);
    try {
      assert.equal(model.buffers!.get('bn1.num_batches_tracked')!.dataSync()[0], 0);
    } finally {
      model.dispose();
    }
  });
});

describe('weights: random', () => {
  it("keeps the folder's architecture and none of its weights: torchvision's initialisation, seeded", async () => {
    const folder = path.join(fixtures, 'resnet18-tiny');
    const source = readSafetensors(path.join(folder, 'model.safetensors')).tensors;
    const states = [];
    for (const seed of [0, 0, 1]) {
      const model = createPretrainedStudent(spec(folder, { weights: 'random' }), [36, 36, 3], 4, seed);
      try {
        states.push(await model.stateDict());
      } finally {
        model.dispose();
      }
    }
    const [a, again, other] = states;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(source).sort());
    for (const [k, t] of Object.entries(a)) {
      if (k.startsWith('fc.')) continue;
      assert.deepEqual(t.shape, source[k].shape, k);
      assert.deepEqual(t.data, again[k].data, `${k}: the same seed, the same weights`);
    }
    const conv = a['conv1.weight'].data;
    assert.notDeepEqual(conv, source['conv1.weight'].data);
    assert.notDeepEqual(conv, other['conv1.weight'].data, 'another seed, other weights');
    // He-normal with fan-out: std √(2 / (out·7·7)).
    const [out] = a['conv1.weight'].shape;
    const std = Math.sqrt(conv.reduce((s, v) => s + Number(v) ** 2, 0) / conv.length);
    const want = Math.sqrt(2 / (out * 49));
    assert.ok(Math.abs(std - want) < 0.15 * want, `conv1 std ${std}, expected about ${want}`);
    assert.ok(a['bn1.running_var'].data.every((v) => Number(v) === 1));
    assert.ok(a['bn1.running_mean'].data.every((v) => Number(v) === 0));
  });
});

describe("a pretrained student's images", () => {
  it("follow timm's eval transform: resize to size / crop_pct (shortest edge), centre crop, mean/std, NHWC", () => {
    const p = timmImagePreprocess(
      {
        input_size: [3, 224, 224],
        crop_pct: 0.95,
        interpolation: 'bicubic',
        mean: [0.5, 0.5, 0.5],
        std: [0.25, 0.25, 0.25],
      },
      undefined,
      'config.json',
    );
    assert.deepEqual(p, {
      resize: { mode: 'shortest', edge: 235 },
      resample: 'bicubic',
      crop: [224, 224],
      rescale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      layout: 'nhwc',
      channels: 3,
      height: 224,
      width: 224,
    });
    // A size of the experiment's keeps crop_pct; timm's defaults fill what the config leaves out.
    const small = timmImagePreprocess({}, [64, 64], 'config.json');
    assert.deepEqual(
      [small.resize, small.crop, small.resample, small.mean],
      [{ mode: 'shortest', edge: 73 }, [64, 64], 'bicubic', [0.485, 0.456, 0.406]],
    );
    assert.deepEqual(timmImagePreprocess({ crop_mode: 'squash', crop_pct: 1 }, [32, 48], 'c').resize, {
      mode: 'exact',
      height: 32,
      width: 48,
    });
    assert.deepEqual(timmImagePreprocess({ crop_pct: 0.5 }, [32, 48], 'c').resize, {
      mode: 'cover',
      height: 64,
      width: 96,
    });
  });

  it("are made from the image folder by the same code as the ONNX models' inputs", async () => {
    const data = path.join(tmp, 'images');
    await writeImageFolder(data, 3);
    // A flat colour: every value is (c/255 − mean)/std after any resize and crop.
    fs.writeFileSync(
      path.join(data, 'red', 'flat.png'),
      await encodeImage(
        { data: new Uint8Array(40 * 30 * 3).map((_, i) => [200, 100, 50][i % 3]), width: 40, height: 30, channels: 3 },
        'png',
      ),
    );
    const folder = path.join(fixtures, 'resnet18-tiny');
    const exp = experimentSchema.parse({
      name: 'x',
      dataset: { source: 'images', folder: data, test_fraction: 0.25, grayscale: true },
      downstream: { model: 'pretrained', folder, input_size: [20, 20] },
      methods: ['stl'],
    });
    const logs: string[] = [];
    const ds = await loadExperimentDataset(exp, '/', (m) => logs.push(m));
    assert.deepEqual(ds.inputShape, [20, 20, 3]);
    assert.ok(
      logs.some((l) =>
        /student images as its pretrained_cfg says: resize shortest edge 22 \(bicubic\), centre crop 20x20/.test(l),
      ),
      logs.join('\n'),
    );
    const p = studentImagePreprocess({ folder, input_size: [20, 20] }, '/');
    const files = ds.raw!.kind === 'images' ? [...ds.raw!.train, ...ds.raw!.test] : [];
    const xs = [ds.train.x, ds.test.x];
    for (const [i, file] of files.entries()) {
      const split = i < ds.train.n ? 0 : 1;
      const row = split === 0 ? i : i - ds.train.n;
      assert.deepEqual(
        Array.from(xs[split].subarray(row * 1200, (row + 1) * 1200)),
        Array.from(await preprocessImage(file, p)),
        file,
      );
    }
    const flat = files.findIndex((f) => f.endsWith('flat.png'));
    const row =
      flat < ds.train.n
        ? ds.train.x.subarray(flat * 1200, (flat + 1) * 1200)
        : ds.test.x.subarray((flat - ds.train.n) * 1200, (flat - ds.train.n + 1) * 1200);
    const want = [200, 100, 50].map((v, c) => (v / 255 - [0.485, 0.456, 0.406][c]) / [0.229, 0.224, 0.225][c]);
    for (let j = 0; j < row.length; j++)
      assert.ok(Math.abs(row[j] - want[j % 3]) < 1e-5, `value ${j}: ${row[j]} vs ${want[j % 3]}`);
  });
});
