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
import { encodeSafetensors, readSafetensors, type StTensor } from '../../../core/node/io/safetensors';
import { AftError } from '../../../core/common/util/errors';
import { createPretrainedStudent, readHubFolder, studentImagePreprocess } from '../../../sidecar/src/models/pretrained';
import { initBackend, tf } from '../../../sidecar/src/runtime/tf';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-pretrained-'));
let counter = 0;

type Config = Record<string, unknown> & { pretrained_cfg: Record<string, unknown> };

/** A copy of a fixture folder with its config and tensors changed. */
function variant(change: { config?: (c: Config) => void; tensors?: (t: Record<string, StTensor>) => void; from?: string } = {}): string {
  const src = path.join(fixtures, change.from ?? 'resnet18-tiny');
  const dir = path.join(tmp, `v${counter++}`);
  fs.mkdirSync(dir);
  const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Config;
  change.config?.(config);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  if (change.tensors) {
    const t = readSafetensors(path.join(src, 'model.safetensors')).tensors;
    change.tensors(t);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(t));
  } else fs.copyFileSync(path.join(src, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  return dir;
}

function refused(f: () => unknown, message: RegExp, details: RegExp[] = []): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof AftError && e.code === 'bad_input', String(e));
    assert.match(e.message, message);
    for (const d of details) assert.ok(e.details?.some((x) => d.test(x)), `no detail matches ${d}: ${JSON.stringify(e.details)}`);
    return true;
  });
}

const spec = (folder: string, extra: Record<string, unknown> = {}) => downstreamSchema.parse({ model: 'pretrained', folder, ...extra });

describe('pre-trained student folders', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('accepts the fixture and infers architecture, width, channels and classes', () => {
    const hub = readHubFolder(path.join(fixtures, 'resnet50-tiny'));
    assert.deepEqual(hub.shape, { arch: 'resnet50', width: 4, inChannels: 3, numClasses: 10 });
  });

  it('refuses an unknown architecture, listing the known ones', () => {
    refused(() => readHubFolder(variant({ config: (c) => (c.architecture = 'resnet19') })), /unknown architecture `resnet19` \(did you mean `resnet18`\?\); the known ones are resnet18, resnet34, resnet50, resnet101, resnet152/);
    refused(() => readHubFolder(variant({ config: (c) => (c.architecture = 'vit_base_patch16_224') })), /unknown architecture `vit_base_patch16_224`; the known ones are resnet18/);
  });

  it('names a missing tensor with its shape', () => {
    refused(() => readHubFolder(variant({ tensors: (t) => delete t['layer3.1.bn2.running_var'] })), /does not match a resnet18 of width 8 with 10 classes \(1 problem\)/, [/^missing: layer3\.1\.bn2\.running_var \[32\]$/]);
  });

  it('names an extra tensor', () => {
    refused(() => readHubFolder(variant({ tensors: (t) => (t['layer5.0.conv1.weight'] = { shape: [2, 2, 1, 1], data: new Float32Array(4) }) })), /1 problem/, [/^unexpected: layer5\.0\.conv1\.weight \[2, 2, 1, 1\]$/]);
  });

  it('names a mis-shaped tensor, expected vs got', () => {
    refused(() => readHubFolder(variant({ tensors: (t) => (t['layer2.0.conv1.weight'] = { shape: [16, 8, 5, 5], data: new Float32Array(16 * 8 * 25) }) })), /1 problem/, [/^mis-shaped: layer2\.0\.conv1\.weight expected \[16, 8, 3, 3\], got \[16, 8, 5, 5\]$/]);
  });

  it('says when the weights are of another architecture than config.json names', () => {
    refused(() => readHubFolder(variant({ from: 'resnet50-tiny', config: (c) => (c.architecture = 'resnet18') })), /they are the weights of a resnet50: does config\.json's architecture say the wrong one\?/, [/^missing: layer1\.0\.conv1\.weight|^mis-shaped: /, /^unexpected: layer1\.0\.conv3\.weight/]);
  });

  it('refuses a config that contradicts the weights, naming the field', () => {
    refused(() => readHubFolder(variant({ config: (c) => (c.num_classes = 1000) })), /config\.json says num_classes 1000, but fc\.weight has 10 rows/);
    refused(() => readHubFolder(variant({ config: (c) => (c.num_features = 512) })), /config\.json says num_features 512, but a resnet18 with conv1 of width 8 has 64/);
    refused(() => readHubFolder(variant({ config: (c) => (c.pretrained_cfg.input_size = [1, 36, 36]) })), /input_size has 1 channels, but conv1\.weight takes 3/);
    refused(() => readHubFolder(variant({ config: (c) => (c.pretrained_cfg.num_classes = 1000) })), /pretrained_cfg says num_classes 1000, but the model has 10 classes/);
    refused(() => readHubFolder(variant({ config: (c) => (c.global_pool = 'max') })), /only average pooling/);
    refused(() => readHubFolder(variant({ config: (c) => (c.pretrained_cfg.classifier = 'head.fc') })), /a resnet18 has `fc` here, got "head\.fc"/);
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
      assert.throws(() => studentImagePreprocess({ folder: dir }, '/'), (e: unknown) => e instanceof AftError && pattern.test(`${e.location?.field ?? ''} ${e.message}`));
    }
  });

  it('refuses pickled weights, saying how to convert them', () => {
    const dir = path.join(tmp, 'pickled');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'resnet18-tiny', 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), Buffer.from('\x80\x02}q\x00.', 'latin1'));
    refused(() => readHubFolder(dir), /the weights are pickled \(pytorch_model\.bin\); aft reads only model\.safetensors, because loading a pickle runs code/, [/torch\.load\('pytorch_model\.bin'.*save_file\(.*'model\.safetensors'\)/]);
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
    refused(() => createPretrainedStudent(spec(folder, { head: 'keep' }), [36, 36, 3], 4, 0), /`head: keep` needs the model's classes to be the dataset's: the model has 10, the dataset 4/);
    refused(() => createPretrainedStudent(spec(folder), [28, 28, 1], 10, 0), /reads images \[height, width, 3\].*\[28, 28, 1\]/);
  });

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`converts ${dtype} weights to float32 (and says so)`, () => {
      const dir = variant({ tensors: (t) => Object.values(t).forEach((x) => (x.dtype = x.shape.length === 0 ? 'I64' : dtype)) });
      const logs: string[] = [];
      const ref = readSafetensors(path.join(fixtures, 'resnet18-tiny.reference.safetensors')).tensors;
      const model = createPretrainedStudent(spec(dir, { head: 'keep' }), [36, 36, 3], 10, 0, (m) => logs.push(m));
      try {
        assert.ok(logs.some((l) => new RegExp(`\\d+ ${dtype} tensors converted to float32`).test(l)), logs.join('\n'));
        const got = tf.tidy(() => model.forward(tf.transpose(tf.tensor(ref.input.data, ref.input.shape), [0, 2, 3, 1])).logits.dataSync());
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
    const dir = variant({ tensors: (t) => Object.keys(t).filter((k) => k.endsWith('num_batches_tracked')).forEach((k) => delete t[k]) });
    const model = createPretrainedStudent(spec(dir, { head: 'keep' }), [36, 36, 3], 10, 0);
    try {
      assert.equal(model.buffers!.get('bn1.num_batches_tracked')!.dataSync()[0], 0);
    } finally {
      model.dispose();
    }
  });
});
