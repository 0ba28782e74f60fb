/**
 * ResNet students against PyTorch (test/fixtures/students/make_resnet.py: torchvision's own
 * blocks at reduced widths, seeded random weights): eval-mode logits and φ, one training step's
 * gradients (cross-entropy, train-mode BatchNorm) and the running statistics after it, on every
 * backend that loads here; the key layout of the full-size models; and a trained student saved
 * in the hub layout and loaded back.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../../core/node/experiment/schema';
import { encodeSafetensors, readSafetensors } from '../../../core/node/io/safetensors';
import { crossEntropy } from '../../../sidecar/src/methods/regularizers';
import {
  createPretrainedStudent,
  hubFiles,
  readHubFolder,
  type PretrainedStudent,
} from '../../../sidecar/src/models/pretrained';
import { RESNET_ARCHS, resnetStateShapes } from '../../../core/node/students/resnet';
import { Optimizer } from '../../../sidecar/src/train/optimizer';
import { initBackend, tf } from '../../../sidecar/src/runtime/tf';
import { startTestBackend, TEST_BACKENDS } from '../../helpers/backends';
import { relErr } from '../../helpers/numeric';
import { assertParity, nhwc } from '../../helpers/studentParity';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const CASES = [
  { name: 'resnet18-tiny', arch: 'resnet18' },
  { name: 'resnet50-tiny', arch: 'resnet50' },
];

const spec = (folder: string, extra: Record<string, unknown> = {}) =>
  downstreamSchema.parse({ model: 'pretrained', folder, ...extra });

// Every backend of AFT_TEST_BACKENDS (cpu, wasm, webgpu by default: test/helpers/backends.ts);
// tensors are read with await data(), as the engine reads them (webgpu cannot read synchronously).
for (const backend of TEST_BACKENDS) {
  describe(`ResNet students against PyTorch on ${backend}`, () => {
    before(async () => {
      await startTestBackend(backend);
    });

    for (const c of CASES) {
      it(`${c.name}: eval logits and φ (1e-4), gradients (1e-3), running statistics (1e-4)`, async () => {
        await startTestBackend(backend);
        const ref = readSafetensors(path.join(fixtures, `${c.name}.reference.safetensors`)).tensors;
        const model = createPretrainedStudent(spec(path.join(fixtures, c.name), { head: 'keep' }), [36, 36, 3], 10, 0);
        try {
          const { errs, worstStat } = await assertParity(`${c.name} on ${backend}`, model, ref);
          assert.ok(errs.running_stats < 1e-4, `${worstStat}: ${errs.running_stats}`);
        } finally {
          model.dispose();
        }
      });
    }

    it('frozen BatchNorm trains on the running statistics and leaves them alone', async () => {
      await startTestBackend(backend);
      const ref = readSafetensors(path.join(fixtures, 'resnet18-tiny.reference.safetensors')).tensors;
      const model = createPretrainedStudent(
        spec(path.join(fixtures, 'resnet18-tiny'), { head: 'keep', batchnorm: 'frozen' }),
        [36, 36, 3],
        10,
        0,
      );
      try {
        const stats = (): Promise<number[][]> =>
          Promise.all([...model.buffers!.values()].map(async (v) => Array.from(await v.data())));
        const before = await stats();
        const logits = tf.tidy(() => model.forward(nhwc(ref.input), 'train').logits);
        assert.ok(relErr(await logits.data(), ref['eval.logits'].data) < 1e-4);
        logits.dispose();
        assert.deepEqual(await stats(), before);
      } finally {
        model.dispose();
      }
    });
  });
}

describe('ResNet layout', () => {
  it("the state-dict keys and shapes of torchvision's full-size resnet18, 34, 50, 101 and 152", () => {
    const want = JSON.parse(fs.readFileSync(path.join(fixtures, 'torchvision_keys.json'), 'utf8')) as Record<
      string,
      [string, number[]][]
    >;
    assert.deepEqual(Object.keys(want).sort(), Object.keys(RESNET_ARCHS).sort());
    for (const [arch, entries] of Object.entries(want)) {
      const got = resnetStateShapes({ arch, width: 64, inChannels: 3, numClasses: 1000 }).map((e) => [e.key, e.shape]);
      assert.deepEqual(got, entries, arch);
    }
  });
});

describe('a trained student in the hub layout', () => {
  it('trains a few steps, saves config.json + model.safetensors, and loads back with the same logits', async () => {
    await initBackend('cpu');
    const ref = readSafetensors(path.join(fixtures, 'resnet18-tiny.reference.safetensors')).tensors;
    const src = path.join(fixtures, 'resnet18-tiny');
    const model = createPretrainedStudent(spec(src), [36, 36, 3], 4, 3);
    const out = process.env.AFT_ROUNDTRIP_DIR
      ? path.resolve(process.env.AFT_ROUNDTRIP_DIR)
      : fs.mkdtempSync(path.join(os.tmpdir(), 'aft-hub-'));
    let reloaded: PretrainedStudent | undefined;
    try {
      const params = [...model.params.values()];
      const opt = new Optimizer('adam', [{ params, lr: 1e-3, weightDecay: 0 }]);
      const labels = Float32Array.from(ref.labels.data, (v) => v % 4);
      for (let step = 0; step < 3; step++) {
        tf.tidy(() => {
          const y = tf.tensor1d(Array.from(labels), 'int32');
          const { grads } = tf.variableGrads(
            () => crossEntropy(model.forward(nhwc(ref.input), 'train').logits, y),
            params,
          );
          opt.apply(new Map(params.map((p) => [p, grads[p.name]])), 1);
        });
      }
      opt.dispose();
      const files = await hubFiles(model, { method: 'stl', seed: '3' });
      fs.mkdirSync(out, { recursive: true });
      for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(out, name), data);

      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as {
        num_classes: number;
        architecture: string;
        pretrained_cfg: { num_classes: number; input_size: number[] };
      };
      assert.equal(config.num_classes, 4);
      assert.equal(config.pretrained_cfg.num_classes, 4);
      assert.equal(config.architecture, 'resnet18');
      assert.deepEqual(config.pretrained_cfg.input_size, [3, 36, 36]);
      // The original key names, BatchNorm buffers included, counters as int64 and moved by 3 steps.
      const saved = readSafetensors(path.join(out, 'model.safetensors'));
      const original = readSafetensors(path.join(src, 'model.safetensors')).tensors;
      assert.deepEqual(Object.keys(saved.tensors).sort(), Object.keys(original).sort());
      assert.deepEqual(saved.tensors['fc.weight'].shape, [4, 64]);
      assert.equal(saved.tensors['layer2.0.downsample.1.num_batches_tracked'].data[0], 10);
      assert.equal(saved.metadata.format, 'pt');
      assert.equal(readHubFolder(out).arch, 'resnet18');

      reloaded = createPretrainedStudent(spec(out, { head: 'keep' }), [36, 36, 3], 4, 0);
      const [a, b] = tf.tidy(() => [
        model.forward(nhwc(ref.input)).logits.dataSync(),
        reloaded!.forward(nhwc(ref.input)).logits.dataSync(),
      ]);
      assert.deepEqual(Array.from(b), Array.from(a));
      // For make_resnet.py's check mode: the input and aft's logits next to the folder.
      if (process.env.AFT_ROUNDTRIP_DIR)
        fs.writeFileSync(
          path.join(out, 'check.safetensors'),
          encodeSafetensors({ input: ref.input, logits: { shape: [4, 4], data: Float32Array.from(a) } }),
        );
    } finally {
      model.dispose();
      reloaded?.dispose();
      if (!process.env.AFT_ROUNDTRIP_DIR) fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
