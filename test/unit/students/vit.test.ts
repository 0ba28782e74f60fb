/**
 * ViT/DeiT and MLP-Mixer students against PyTorch (test/fixtures/students/make_vit.py: timm's
 * module names and semantics in plain PyTorch, seeded random weights, 32x32 inputs, patch 8,
 * width 32, depth 2): eval-mode logits and φ, one training step's gradients, on every backend
 * that loads; the key layout of the full-size models; a trained student saved in the hub layout
 * and loaded back; the ONNX export run by onnxruntime; dropout; and the folders that are refused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../../core/node/experiment/schema';
import { readSafetensors, type StTensor } from '../../../core/node/io/safetensors';
import { exportStudent, studentParameterCount } from '../../../sidecar/src/export/student';
import { crossEntropy } from '../../../sidecar/src/methods/regularizers';
import {
  createPretrainedStudent,
  hubFiles,
  readHubFolder,
  type PretrainedStudent,
} from '../../../sidecar/src/models/pretrained';
import { mixerFamily } from '../../../sidecar/src/models/students/mixer';
import { KNOWN_ARCHS } from '../../../core/node/students/registry';
import { vitFamily } from '../../../sidecar/src/models/students/vit';
import { nchwToNhwc } from '../../../sidecar/src/predict/predict';
import { OnnxSession } from '../../../sidecar/src/runtime/onnx';
import { initBackend, tf } from '../../../sidecar/src/runtime/tf';
import { Optimizer } from '../../../sidecar/src/train/optimizer';
import { startTestBackend, TEST_BACKENDS } from '../../helpers/backends';
import { relErr } from '../../helpers/numeric';
import { studentVariant, type FolderChange } from '../../helpers/studentFolders';
import { assertParity, assertRefused, evalLogits, nhwc, writeRoundTripCheck } from '../../helpers/studentParity';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-vit-'));
const CASES = [
  { name: 'vit-tiny', arch: 'vit_tiny_patch16_224', family: 'vit' },
  { name: 'mixer-tiny', arch: 'mixer_b16_224', family: 'mixer' },
];
const INPUT = [32, 32, 3];

const spec = (folder: string, extra: Record<string, unknown> = {}) =>
  downstreamSchema.parse({ model: 'pretrained', folder, ...extra });
const reference = (name: string): Record<string, StTensor> =>
  readSafetensors(path.join(fixtures, `${name}.reference.safetensors`)).tensors;

for (const backend of TEST_BACKENDS) {
  describe(`ViT and Mixer students against PyTorch on ${backend}`, () => {
    before(async () => {
      await startTestBackend(backend);
    });

    for (const c of CASES) {
      it(`${c.name}: eval logits and φ (1e-4), gradients (1e-3)`, async () => {
        await startTestBackend(backend);
        const model = createPretrainedStudent(spec(path.join(fixtures, c.name), { head: 'keep' }), INPUT, 10, 0);
        try {
          await assertParity(`${c.name} on ${backend}`, model, reference(c.name));
        } finally {
          model.dispose();
        }
      });
    }
  });
}

describe('ViT and Mixer layout', () => {
  it('the state-dict keys and shapes of the full-size vit_tiny/small/base_patch16_224 and mixer_b16_224', () => {
    const want = JSON.parse(fs.readFileSync(path.join(fixtures, 'timm_vit_keys.json'), 'utf8')) as Record<
      string,
      [string, number[]][]
    >;
    const dims = { vit_tiny_patch16_224: [192, 3], vit_small_patch16_224: [384, 6], vit_base_patch16_224: [768, 12] };
    for (const [arch, entries] of Object.entries(want)) {
      const got =
        arch === 'mixer_b16_224'
          ? mixerFamily.stateShapes({
              arch,
              numClasses: 1000,
              inChannels: 3,
              patch: 16,
              embedDim: 768,
              depth: 12,
              tokensDim: 384,
              channelsDim: 3072,
              grid: [14, 14],
              dropout: { head: 0, proj: 0 },
            })
          : vitFamily.stateShapes({
              arch,
              numClasses: 1000,
              inChannels: 3,
              patch: 16,
              embedDim: dims[arch as keyof typeof dims][0],
              depth: 12,
              heads: dims[arch as keyof typeof dims][1],
              mlpHidden: 4 * dims[arch as keyof typeof dims][0],
              grid: [14, 14],
              dropout: { head: 0, pos: 0, proj: 0, attn: 0 },
            });
      assert.deepEqual(
        got.map((e) => [e.key, e.shape]),
        entries,
        arch,
      );
    }
  });

  it("reads each fixture's shape from config.json and the tensors, and counts parameters as torch does", () => {
    const vit = readHubFolder(path.join(fixtures, 'vit-tiny'));
    assert.equal(vit.family.name, 'vit');
    assert.deepEqual(vit.shape, {
      arch: 'vit_tiny_patch16_224',
      numClasses: 10,
      inChannels: 3,
      patch: 8,
      embedDim: 32,
      depth: 2,
      heads: 2,
      mlpHidden: 128,
      grid: [4, 4],
      dropout: { head: 0, pos: 0, proj: 0, attn: 0 },
    });
    // make_vit.py prints the torch counts: 32554 and 24618.
    assert.equal(studentParameterCount(vit.family, vit.shape), 32_554);
    const mixer = readHubFolder(path.join(fixtures, 'mixer-tiny'));
    assert.equal(studentParameterCount(mixer.family, mixer.shape), 24_618);
  });
});

describe('a trained ViT or Mixer student in the hub layout', () => {
  for (const c of CASES) {
    it(`${c.name}: trains a few steps, saves config.json + model.safetensors, loads back with the same logits`, async () => {
      await initBackend('cpu');
      const ref = reference(c.name);
      const src = path.join(fixtures, c.name);
      const model = createPretrainedStudent(spec(src), INPUT, 4, 3);
      const out = process.env.AFT_ROUNDTRIP_DIR
        ? path.resolve(process.env.AFT_ROUNDTRIP_DIR, c.name)
        : fs.mkdtempSync(path.join(tmp, 'hub-'));
      let reloaded: PretrainedStudent | undefined;
      try {
        const params = [...model.params.values()];
        const opt = new Optimizer('adam', [{ params, lr: 1e-3, weightDecay: 0 }]);
        const labels = Array.from(ref.labels.data, (v) => v % 4);
        for (let step = 0; step < 2; step++) {
          tf.tidy(() => {
            const y = tf.tensor1d(labels, 'int32');
            const { grads } = tf.variableGrads(
              () => crossEntropy(model.forward(nhwc(ref.input), 'train').logits, y),
              params,
            );
            opt.apply(new Map(params.map((p) => [p, grads[p.name]])), 1);
          });
        }
        opt.dispose();
        fs.mkdirSync(out, { recursive: true });
        for (const [name, data] of Object.entries(await hubFiles(model, { method: 'stl', seed: '3' })))
          fs.writeFileSync(path.join(out, name), data);
        const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        assert.equal(config.num_classes, 4);
        assert.equal(config.architecture, c.arch);
        assert.deepEqual(
          config.model_args,
          (JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>).model_args,
        );
        const saved = readSafetensors(path.join(out, 'model.safetensors')).tensors;
        const original = readSafetensors(path.join(src, 'model.safetensors')).tensors;
        assert.deepEqual(Object.keys(saved).sort(), Object.keys(original).sort());
        assert.deepEqual(saved['head.weight'].shape, [4, 32]);
        const stem = c.family === 'vit' ? 'patch_embed.proj.weight' : 'stem.proj.weight';
        assert.deepEqual(saved[stem].shape, [32, 3, 8, 8]);
        // Trained: the stem moved, in PyTorch's OIHW layout (not a transposed copy).
        const moved = relErr(saved[stem].data, original[stem].data);
        assert.ok(moved > 0 && moved < 0.05, `stem moved by ${moved}`);

        reloaded = createPretrainedStudent(spec(out, { head: 'keep' }), INPUT, 4, 0);
        const [a, b] = await evalLogits([model, reloaded], () => nhwc(ref.input));
        assert.deepEqual(b, a);
        // For make_vit.py's check mode: the input and aft's logits next to the folder.
        writeRoundTripCheck(out, { input: ref.input }, a, [4, 4]);
      } finally {
        model.dispose();
        reloaded?.dispose();
      }
    });
  }
});

describe('a ViT or Mixer student exported to ONNX', () => {
  for (const c of CASES) {
    it(`${c.name}: onnxruntime gives PyTorch's eval logits and φ (1e-4)`, async () => {
      const hub = readHubFolder(path.join(fixtures, c.name));
      const ref = reference(c.name);
      const [n, ch, h, w] = ref.input.shape;
      const file = path.join(tmp, `${c.name}.onnx`);
      fs.writeFileSync(file, exportStudent(hub, [h, w, ch], { method: 'stl' }));
      const session = await OnnxSession.open(file, { device: 'cpu', log: () => {} });
      try {
        const got = await session.run(
          { input: { type: 'float32', data: nchwToNhwc(ref.input), dims: [n, h, w, ch] } },
          ['logits', 'features'],
        );
        assert.deepEqual(got.logits.dims, [n, 10]);
        const errs = {
          logits: relErr(got.logits.data as Float32Array, ref['eval.logits'].data),
          phi: relErr(got.features.data as Float32Array, ref['eval.features'].data),
        };
        console.log(
          `${c.name} ONNX vs PyTorch: logits ${errs.logits.toExponential(2)}, φ ${errs.phi.toExponential(2)}`,
        );
        assert.ok(errs.logits < 1e-4 && errs.phi < 1e-4, JSON.stringify(errs));
      } finally {
        await session.release();
      }
    });
  }
});

describe('ViT dropout', () => {
  it("acts in training only, with masks from the run's seed", async () => {
    await initBackend('cpu');
    const dir = variant('vit-tiny', {
      config: (cf) => Object.assign(cf.model_args as object, { drop_rate: 0.5, proj_drop_rate: 0.2 }),
    });
    const ref = reference('vit-tiny');
    const logits = async (seed: number, mode: 'train' | 'eval'): Promise<number[]> => {
      const m = createPretrainedStudent(spec(dir, { head: 'keep' }), INPUT, 10, seed);
      try {
        const l = tf.tidy(() => m.forward(nhwc(ref.input), mode).logits);
        const d = Array.from(await l.data());
        l.dispose();
        return d;
      } finally {
        m.dispose();
      }
    };
    assert.ok(relErr(await logits(1, 'eval'), ref['eval.logits'].data) < 1e-4);
    const [a, b, other] = [await logits(1, 'train'), await logits(1, 'train'), await logits(2, 'train')];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, other);
    assert.ok(relErr(a, ref['eval.logits'].data) > 1e-2, 'dropout changed nothing in training');
  });
});

describe('ViT and Mixer with weights: random', () => {
  // What timm's initialisation gives each (the std of a linear weight, and a LayerNorm's γ).
  const WANT = {
    'vit-tiny': { weight: 'blocks.0.mlp.fc1.weight', std: 0.02 * 0.8796, norm: 'blocks.1.norm2.weight' },
    // Xavier-uniform [64·2, 32]: limit √(6 / (128 + 32)), std limit/√3.
    'mixer-tiny': {
      weight: 'blocks.0.mlp_channels.fc1.weight',
      std: Math.sqrt(6 / 160) / Math.sqrt(3),
      norm: 'norm.weight',
    },
  };
  for (const c of CASES) {
    it(`${c.name}: the folder's architecture and none of its weights, timm's initialisation, seeded`, async () => {
      await initBackend('cpu');
      const folder = path.join(fixtures, c.name);
      const source = readSafetensors(path.join(folder, 'model.safetensors')).tensors;
      const states = [];
      for (const seed of [0, 0, 1]) {
        const model = createPretrainedStudent(spec(folder, { weights: 'random' }), INPUT, 4, seed);
        try {
          states.push(await model.stateDict());
        } finally {
          model.dispose();
        }
      }
      const [a, again, other] = states;
      assert.deepEqual(Object.keys(a).sort(), Object.keys(source).sort());
      for (const [k, t] of Object.entries(a))
        assert.deepEqual(t.data, again[k].data, `${k}: the same seed, the same weights`);
      const want = WANT[c.name as keyof typeof WANT];
      const w = a[want.weight].data;
      assert.notDeepEqual(w, source[want.weight].data);
      assert.notDeepEqual(w, other[want.weight].data, 'another seed, other weights');
      const std = Math.sqrt(w.reduce((acc, v) => acc + v ** 2, 0) / w.length);
      assert.ok(Math.abs(std - want.std) < 0.1 * want.std, `${want.weight} std ${std}, expected about ${want.std}`);
      assert.ok(a[want.norm].data.every((v) => v === 1));
    });
  }
});

type Config = Record<string, unknown> & {
  pretrained_cfg: Record<string, unknown>;
  model_args: Record<string, unknown>;
};
let counter = 0;

/** A copy of a fixture folder with its config and tensors changed. */
function variant(from: string, change: FolderChange<Config> = {}): string {
  return studentVariant(from, path.join(tmp, `v${counter++}`), change);
}

/** Folders that must be refused: the change, and what the message (and a detail) must say. */
const REFUSED: {
  name: string;
  from: string;
  change: Parameters<typeof variant>[1];
  message: RegExp;
  detail?: RegExp;
}[] = [
  {
    name: 'an unknown architecture, listing every known one',
    from: 'vit-tiny',
    change: { config: (c) => (c.architecture = 'vit_tiny_patch14_224') },
    message: new RegExp(
      `unknown architecture \`vit_tiny_patch14_224\` \\(did you mean \`vit_tiny_patch16_224\`\\?\\); the known ones are ${KNOWN_ARCHS.join(', ')}$`,
    ),
  },
  {
    name: 'a missing tensor',
    from: 'vit-tiny',
    change: { tensors: (t) => delete t['blocks.1.attn.qkv.bias'] },
    message:
      /does not match a vit_tiny_patch16_224 \(embed_dim 32, depth 2, 2 heads, 8-pixel patches on 32x32\) with 10 classes \(1 problem\)/,
    detail: /^missing: blocks\.1\.attn\.qkv\.bias \[96\]$/,
  },
  {
    name: 'an extra tensor',
    from: 'mixer-tiny',
    change: { tensors: (t) => (t['stem.norm.weight'] = { shape: [32], data: new Float32Array(32) }) },
    message: /1 problem/,
    detail: /^unexpected: stem\.norm\.weight \[32\]$/,
  },
  {
    name: 'a mis-shaped tensor, expected vs got',
    from: 'vit-tiny',
    change: { tensors: (t) => (t['blocks.0.mlp.fc2.weight'] = { shape: [32, 64], data: new Float32Array(32 * 64) }) },
    message: /1 problem/,
    detail: /^mis-shaped: blocks\.0\.mlp\.fc2\.weight expected \[32, 128\], got \[32, 64\]$/,
  },
  {
    name: 'embed_dim contradicting the weights',
    from: 'vit-tiny',
    change: { config: (c) => (c.model_args.embed_dim = 192) },
    message: /config\.json says embed_dim 192, but patch_embed\.proj\.weight \[32, 3, 8, 8\] gives 32/,
  },
  {
    name: 'depth contradicting the weights',
    from: 'mixer-tiny',
    change: { config: (c) => (c.model_args.num_blocks = 12) },
    message: /config\.json says num_blocks 12, but the tensors' blocks\.0 … blocks\.1 gives 2/,
  },
  {
    name: "the architecture's own width when model_args leaves it out",
    from: 'vit-tiny',
    change: { config: (c) => delete c.model_args.embed_dim },
    message:
      /the architecture has embed_dim 192, but patch_embed\.proj\.weight \[32, 3, 8, 8\] gives 32: if the weights are right, say `model_args\.embed_dim: 32`/,
  },
  {
    name: 'heads that do not divide the width',
    from: 'vit-tiny',
    change: { config: (c) => (c.model_args.num_heads = 3) },
    message: /3 heads do not divide embed_dim 32/,
  },
  {
    name: 'an input size the position embeddings do not have',
    from: 'vit-tiny',
    change: { config: (c) => (c.model_args.img_size = 64) },
    message:
      /model_args\.img_size 64 in 8-pixel patches gives 8x8 = 64 patches, but pos_embed \[1, 17, 32\] \(1 \+ patches\) gives 16/,
  },
  {
    name: 'num_features contradicting the weights',
    from: 'mixer-tiny',
    change: { config: (c) => (c.num_features = 768) },
    message: /config\.json says num_features 768, but a mixer_b16_224 of embed_dim 32 has 32/,
  },
  {
    name: 'the wrong pooling',
    from: 'vit-tiny',
    change: { config: (c) => (c.global_pool = 'avg') },
    message: /only `token` pooling is supported for a vit_tiny_patch16_224, got "avg"/,
  },
  {
    name: 'stochastic depth',
    from: 'vit-tiny',
    change: { config: (c) => (c.model_args.drop_path_rate = 0.1) },
    message: /stochastic depth is not supported; set it to 0 \(got 0\.1\)/,
  },
];

describe('ViT and Mixer folders that are refused', () => {
  for (const r of REFUSED) {
    it(r.name, () => {
      assertRefused(() => readHubFolder(variant(r.from, r.change)), r);
    });
  }

  it('a dataset whose images are not the size the weights fix, saying what to set', () => {
    assert.throws(
      () => createPretrainedStudent(spec(path.join(fixtures, 'vit-tiny')), [48, 48, 3], 10, 0),
      /reads 32x32 images only .* this dataset's images are 48x48: leave `downstream\.input_size` out .* or set it to \[32, 32\]/,
    );
  });
});
