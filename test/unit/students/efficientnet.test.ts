/**
 * The EfficientNet student against PyTorch (test/fixtures/students/make_effnet.py: timm's
 * efficientnet_b0 modules in plain PyTorch at width 0.25 and depth 0.5, seeded random weights,
 * 36x36 inputs): eval-mode logits and φ, one training step's gradients (train-mode BatchNorm) and
 * the running statistics after it, on every backend that loads; the hand-written depthwise
 * gradients against tfjs's own kernels; the key layout of the full-size model; a trained student
 * saved in the hub layout and loaded back; the ONNX export run by onnxruntime; dropout and
 * stochastic depth; and the folders that are refused.
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
import { depthwiseConv2d } from '../../../sidecar/src/models/depthwise';
import {
  createPretrainedStudent,
  hubFiles,
  readHubFolder,
  type PretrainedStudent,
} from '../../../sidecar/src/models/pretrained';
import { effnetFamily } from '../../../sidecar/src/models/students/efficientnet';
import { nchwToNhwc } from '../../../sidecar/src/predict/predict';
import { OnnxSession } from '../../../sidecar/src/runtime/onnx';
import { initBackend, tf, type Tensor, type Tensor4D } from '../../../sidecar/src/runtime/tf';
import { Optimizer } from '../../../sidecar/src/train/optimizer';
import { Rng } from '../../../sidecar/src/util/rng';
import { startTestBackend, TEST_BACKENDS } from '../../helpers/backends';
import { relErr } from '../../helpers/numeric';
import { studentVariant, type FolderChange } from '../../helpers/studentFolders';
import { assertParity, assertRefused, evalLogits, nhwc, writeRoundTripCheck } from '../../helpers/studentParity';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const NAME = 'effnet-tiny';
const FOLDER = path.join(fixtures, NAME);
const INPUT = [36, 36, 3];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-effnet-'));

const spec = (folder: string, extra: Record<string, unknown> = {}) =>
  downstreamSchema.parse({ model: 'pretrained', folder, ...extra });
const reference = (): Record<string, StTensor> =>
  readSafetensors(path.join(fixtures, `${NAME}.reference.safetensors`)).tensors;

/** Logits of a fresh student on the reference input (the model disposed after). */
async function logitsOf(folder: string, seed: number, mode: 'train' | 'eval'): Promise<number[]> {
  const m = createPretrainedStudent(spec(folder, { head: 'keep' }), INPUT, 10, seed);
  try {
    const l = tf.tidy(() => m.forward(nhwc(reference().input), mode).logits);
    const d = Array.from(await l.data());
    l.dispose();
    return d;
  } finally {
    m.dispose();
  }
}

for (const backend of TEST_BACKENDS) {
  describe(`EfficientNet student against PyTorch on ${backend}`, () => {
    before(async () => {
      await startTestBackend(backend);
    });

    it(`${NAME}: eval logits and φ (1e-4), gradients (1e-3), running statistics (1e-4)`, async () => {
      await startTestBackend(backend);
      const model = createPretrainedStudent(spec(FOLDER, { head: 'keep' }), INPUT, 10, 0);
      try {
        const { errs, worstStat } = await assertParity(`${NAME} on ${backend}`, model, reference());
        assert.ok(errs.running_stats < 1e-4, `${worstStat}: ${errs.running_stats}`);
      } finally {
        model.dispose();
      }
    });

    // Kernel, stride, padding and input sizes (odd ones crop the spread gradient).
    const GEOMETRIES = [
      { kernel: 3, stride: 1, pad: 1, size: [7, 6] },
      { kernel: 3, stride: 2, pad: 1, size: [9, 8] },
      { kernel: 5, stride: 2, pad: 2, size: [7, 10] },
      { kernel: 5, stride: 1, pad: 2, size: [5, 5] },
      { kernel: 3, stride: 2, pad: 0, size: [6, 7] },
    ];
    for (const g of GEOMETRIES) {
      it(`depthwise k${g.kernel} s${g.stride} p${g.pad} on ${g.size.join('x')}: value and gradients as tfjs's cpu kernels`, async () => {
        const rng = new Rng(g.kernel * 10 + g.stride);
        const rand = (shape: number[]): number[] =>
          Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
        const xShape = [2, ...g.size, 3];
        const wShape = [g.kernel, g.kernel, 3, 1];
        const [xv, wv] = [rand(xShape), rand(wShape)];
        const pads = [
          [0, 0],
          [g.pad, g.pad],
          [g.pad, g.pad],
          [0, 0],
        ] as [[number, number], [number, number], [number, number], [number, number]];
        const run = async (ours: boolean): Promise<number[][]> => {
          const x = tf.tensor4d(xv, xShape as [number, number, number, number]);
          const w = tf.tensor4d(wv, wShape as [number, number, number, number]);
          const f = (a: Tensor4D, b: Tensor4D): Tensor4D =>
            ours ? depthwiseConv2d(a, b, g) : tf.depthwiseConv2d(a, b, g.stride, g.pad ? pads : 'valid');
          // A loss with a different weight at every output, so that every gradient entry is tested.
          const loss = (a: Tensor4D, b: Tensor4D) => {
            const y = f(a, b);
            return tf.sum(tf.mul(y, tf.sin(tf.reshape(tf.range(0, y.size), y.shape))));
          };
          const { value, grads } = tf.tidy(() => {
            const gr = tf.grads((...ab: Tensor[]) => loss(ab[0] as Tensor4D, ab[1] as Tensor4D));
            return { value: f(x, w), grads: gr([x, w]) };
          });
          const out = [
            Array.from(await value.data()),
            ...(await Promise.all(grads.map(async (t) => Array.from(await t.data())))),
          ];
          tf.dispose([x, w, value, ...grads]);
          return out;
        };
        const ours = await run(true);
        // tfjs's own gradient kernels exist on the cpu backend (not on wasm): the reference.
        await initBackend('cpu');
        const want = await run(false);
        await startTestBackend(backend);
        ['value', 'dx', 'dw'].forEach((what, i) =>
          assert.ok(relErr(ours[i], want[i]) < 1e-5, `${what}: ${relErr(ours[i], want[i])}`),
        );
      });
    }
  });
}

describe('EfficientNet layout', () => {
  it("the state-dict keys and shapes of timm's full-size efficientnet_b0, and its parameter count", () => {
    const want = (
      JSON.parse(fs.readFileSync(path.join(fixtures, 'timm_effnet_keys.json'), 'utf8')) as Record<
        string,
        [string, number[]][]
      >
    ).efficientnet_b0;
    const b0 = {
      arch: 'efficientnet_b0',
      numClasses: 1000,
      inChannels: 3,
      stem: 32,
      stages: [
        [1, 16],
        [2, 24],
        [2, 40],
        [3, 80],
        [3, 112],
        [4, 192],
        [1, 320],
      ].map(([repeats, width]) => ({ repeats, width })),
      head: 1280,
      dropRate: 0,
      dropPathRate: 0,
    };
    assert.deepEqual(
      effnetFamily.stateShapes(b0).map((e) => [e.key, e.shape]),
      want,
    );
    // timm's published count for efficientnet_b0 (make_effnet.py prints it too).
    assert.equal(studentParameterCount(effnetFamily, b0), 5_288_548);
  });

  it('reads the widths and depths of the tiny fixture from its weights', () => {
    const hub = readHubFolder(FOLDER);
    assert.equal(hub.family.name, 'efficientnet');
    assert.equal(
      hub.family.describe(hub.shape),
      'efficientnet_b0 (stem 8, stages 1x8 1x8 1x16 2x24 2x32 2x48 1x80, head 320)',
    );
    // make_effnet.py prints the torch count.
    assert.equal(studentParameterCount(hub.family, hub.shape), 202_032);
  });
});

describe('a trained EfficientNet student in the hub layout', () => {
  it('trains a few steps, saves config.json + model.safetensors, loads back with the same logits', async () => {
    await initBackend('cpu');
    const ref = reference();
    const model = createPretrainedStudent(spec(FOLDER), INPUT, 4, 3);
    const out = process.env.AFT_ROUNDTRIP_DIR
      ? path.resolve(process.env.AFT_ROUNDTRIP_DIR, NAME)
      : fs.mkdtempSync(path.join(tmp, 'hub-'));
    let reloaded: PretrainedStudent | undefined;
    try {
      const params = [...model.params.values()];
      const opt = new Optimizer('adam', [{ params, lr: 1e-3, weightDecay: 0 }]);
      const labels = Array.from(ref.labels.data, (v) => v % 4);
      for (let step = 0; step < 2; step++)
        tf.tidy(() => {
          const y = tf.tensor1d(labels, 'int32');
          const { grads } = tf.variableGrads(
            () => crossEntropy(model.forward(nhwc(ref.input), 'train').logits, y),
            params,
          );
          opt.apply(new Map(params.map((p) => [p, grads[p.name]])), 1);
        });
      opt.dispose();
      fs.mkdirSync(out, { recursive: true });
      for (const [name, data] of Object.entries(await hubFiles(model, { method: 'stl', seed: '3' })))
        fs.writeFileSync(path.join(out, name), data);
      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config.num_classes, 4);
      assert.equal(config.architecture, 'efficientnet_b0');
      const saved = readSafetensors(path.join(out, 'model.safetensors')).tensors;
      const original = readSafetensors(path.join(FOLDER, 'model.safetensors')).tensors;
      assert.deepEqual(Object.keys(saved).sort(), Object.keys(original).sort());
      assert.deepEqual(saved['classifier.weight'].shape, [4, 320]);
      assert.equal(saved['blocks.3.1.bn3.num_batches_tracked'].data[0], 9);
      // Trained, in PyTorch's layout: a depthwise kernel [C, 1, k, k] moved (not a transposed copy).
      const dw = 'blocks.2.0.conv_dw.weight';
      assert.deepEqual(saved[dw].shape, [48, 1, 5, 5]);
      const moved = relErr(saved[dw].data, original[dw].data);
      assert.ok(moved > 0 && moved < 0.05, `${dw} moved by ${moved}`);

      reloaded = createPretrainedStudent(spec(out, { head: 'keep' }), INPUT, 4, 0);
      const [a, b] = await evalLogits([model, reloaded], () => nhwc(ref.input));
      assert.deepEqual(b, a);
      // For make_effnet.py's check mode: the input and aft's logits next to the folder.
      writeRoundTripCheck(out, { input: ref.input }, a, [4, 4]);
    } finally {
      model.dispose();
      reloaded?.dispose();
    }
  });
});

describe('an EfficientNet student exported to ONNX', () => {
  it(`${NAME}: onnxruntime gives PyTorch's eval logits and φ (1e-4)`, async () => {
    const hub = readHubFolder(FOLDER);
    const ref = reference();
    const [n, ch, h, w] = ref.input.shape;
    const file = path.join(tmp, `${NAME}.onnx`);
    fs.writeFileSync(file, exportStudent(hub, [h, w, ch], { method: 'stl' }));
    const session = await OnnxSession.open(file, { device: 'cpu', log: () => {} });
    try {
      const got = await session.run({ input: { type: 'float32', data: nchwToNhwc(ref.input), dims: [n, h, w, ch] } }, [
        'logits',
        'features',
      ]);
      assert.deepEqual(got.logits.dims, [n, 10]);
      const errs = {
        logits: relErr(got.logits.data as Float32Array, ref['eval.logits'].data),
        phi: relErr(got.features.data as Float32Array, ref['eval.features'].data),
      };
      console.log(`${NAME} ONNX vs PyTorch: logits ${errs.logits.toExponential(2)}, φ ${errs.phi.toExponential(2)}`);
      assert.ok(errs.logits < 1e-4 && errs.phi < 1e-4, JSON.stringify(errs));
    } finally {
      await session.release();
    }
  });
});

type Config = Record<string, unknown> & { pretrained_cfg: Record<string, unknown> };
let counter = 0;

/** A copy of the fixture folder with its config and tensors changed. */
function variant(change: FolderChange<Config>): string {
  return studentVariant(NAME, path.join(tmp, `v${counter++}`), change);
}

describe('EfficientNet dropout and stochastic depth', () => {
  for (const [name, args] of [
    ['dropout before the classifier', { drop_rate: 0.5 }],
    ['stochastic depth', { drop_path_rate: 0.5 }],
  ] as const) {
    it(`${name} acts in training only, with masks from the run's seed`, async () => {
      await initBackend('cpu');
      const dir = variant({ config: (c) => (c.model_args = args) });
      const ref = reference();
      assert.ok(relErr(await logitsOf(dir, 1, 'eval'), ref['eval.logits'].data) < 1e-4);
      const [a, b, other] = [
        await logitsOf(dir, 1, 'train'),
        await logitsOf(dir, 1, 'train'),
        await logitsOf(dir, 2, 'train'),
      ];
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, other);
      assert.ok(relErr(a, ref['train.logits'].data) > 1e-3, `${name} changed nothing in training`);
    });
  }
});

describe('EfficientNet with weights: random', () => {
  it("the folder's architecture and none of its weights, timm's initialisation, seeded", async () => {
    await initBackend('cpu');
    const source = readSafetensors(path.join(FOLDER, 'model.safetensors')).tensors;
    const states = [];
    for (const seed of [0, 0, 1]) {
      const model = createPretrainedStudent(spec(FOLDER, { weights: 'random' }), INPUT, 4, seed);
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
    // timm's _init_weight_goog: N(0, 2/fan-out), fan-out k²·out/groups (k² for a depthwise kernel).
    for (const [key, std] of [
      ['blocks.2.0.conv_dw.weight', Math.sqrt(2 / 25)],
      ['blocks.3.0.conv_pw.weight', Math.sqrt(2 / 96)],
    ] as const) {
      const w = a[key].data;
      assert.notDeepEqual(w, source[key].data);
      assert.notDeepEqual(w, other[key].data, 'another seed, other weights');
      const got = Math.sqrt(w.reduce((acc, v) => acc + v ** 2, 0) / w.length);
      assert.ok(Math.abs(got - std) < 0.15 * std, `${key} std ${got}, expected about ${std}`);
    }
    assert.ok(a['blocks.1.0.bn2.weight'].data.every((v) => v === 1));
    assert.ok(a['blocks.1.0.se.conv_reduce.bias'].data.every((v) => v === 0));
  });
});

/** Folders that must be refused: the change, and what the message (and a detail) must say. */
const REFUSED: { name: string; change: Parameters<typeof variant>[0]; message: RegExp; detail?: RegExp }[] = [
  {
    name: 'a missing tensor',
    change: { tensors: (t) => delete t['blocks.4.1.se.conv_expand.bias'] },
    message:
      /does not match a efficientnet_b0 \(stem 8, stages 1x8 1x8 1x16 2x24 2x32 2x48 1x80, head 320\) with 10 classes \(1 problem\)/,
    detail: /^missing: blocks\.4\.1\.se\.conv_expand\.bias \[192\]$/,
  },
  {
    name: 'an extra tensor',
    change: { tensors: (t) => (t['blocks.0.0.conv_pwl.weight'] = { shape: [8, 8, 1, 1], data: new Float32Array(64) }) },
    message: /1 problem/,
    detail: /^unexpected: blocks\.0\.0\.conv_pwl\.weight \[8, 8, 1, 1\]$/,
  },
  {
    name: 'a depthwise kernel of the wrong size, expected vs got',
    change: {
      tensors: (t) => (t['blocks.2.0.conv_dw.weight'] = { shape: [48, 1, 3, 3], data: new Float32Array(48 * 9) }),
    },
    message: /1 problem/,
    detail: /^mis-shaped: blocks\.2\.0\.conv_dw\.weight expected \[48, 1, 5, 5\], got \[48, 1, 3, 3\]$/,
  },
  {
    name: 'a squeeze-excite of another width',
    change: {
      tensors: (t) => {
        t['blocks.1.0.se.conv_reduce.weight'] = { shape: [4, 48, 1, 1], data: new Float32Array(4 * 48) };
        t['blocks.1.0.se.conv_reduce.bias'] = { shape: [4], data: new Float32Array(4) };
      },
    },
    message: /2 problems/,
    detail: /^mis-shaped: blocks\.1\.0\.se\.conv_reduce\.weight expected \[2, 48, 1, 1\], got \[4, 48, 1, 1\]$/,
  },
  {
    name: 'num_features contradicting the weights',
    change: { config: (c) => (c.num_features = 1280) },
    message: /config\.json says num_features 1280, but an efficientnet_b0 with conv_head of width 320 has 320/,
  },
  {
    name: 'input channels contradicting the stem',
    change: { config: (c) => (c.pretrained_cfg.input_size = [1, 36, 36]) },
    message: /pretrained_cfg\.input_size has 1 channels, but conv_stem\.weight takes 3/,
  },
  {
    name: "the tf_ variants' padding",
    change: { config: (c) => (c.model_args = { pad_type: 'same' }) },
    message: /only PyTorch's symmetric padding .* got "same"/,
  },
  {
    name: 'another classifier name',
    change: { config: (c) => (c.pretrained_cfg.classifier = 'fc') },
    message: /a efficientnet_b0 has `classifier` here, got "fc"/,
  },
  {
    name: 'a drop path rate out of range',
    change: { config: (c) => (c.model_args = { drop_path_rate: 1.5 }) },
    message: /expected a rate in \[0, 1\), got 1\.5/,
  },
];

describe('EfficientNet folders that are refused', () => {
  for (const r of REFUSED) {
    it(r.name, () => {
      assertRefused(() => readHubFolder(variant(r.change)), r);
    });
  }

  it('a ResNet checkpoint under efficientnet_b0 says which architecture the weights are', () => {
    const dir = path.join(tmp, 'resnet-as-effnet');
    fs.mkdirSync(dir);
    const config = JSON.parse(fs.readFileSync(path.join(fixtures, 'resnet18-tiny', 'config.json'), 'utf8')) as Config;
    config.architecture = 'efficientnet_b0';
    delete config.pretrained_cfg.first_conv;
    delete config.pretrained_cfg.classifier;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    fs.copyFileSync(path.join(fixtures, 'resnet18-tiny', 'model.safetensors'), path.join(dir, 'model.safetensors'));
    assert.throws(() => readHubFolder(dir), /no tensor conv_stem\.weight: this is not an efficientnet_b0 state dict/);
  });
});
