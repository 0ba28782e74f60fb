/**
 * Runs with a pretrained ResNet student: every method trains it (stl is fine-tuning), each
 * reported model is saved in the hub layout (config.json with the task's classes +
 * model.safetensors with the original keys and BatchNorm buffers), that folder starts a second
 * run, and `aft export` writes it as ONNX, verified against the trained model. The same for the
 * ViT, Mixer and EfficientNet students (their images prepared as their pretrained_cfg says).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { experimentSchema } from '../../../core/node/experiment/schema';
import { readSafetensors } from '../../../core/node/io/safetensors';
import { AftError } from '../../../core/common/util/errors';
import { exportRun } from '../../../sidecar/src/export/exportRun';
import { readHubFolder } from '../../../sidecar/src/models/pretrained';
import { initBackend } from '../../../sidecar/src/runtime/tf';
import { runExperiment } from '../../../sidecar/src/train/run';
import { writeImageFolder } from '../../helpers/hf';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-students-'));
const data = path.join(ws, 'images');

function run(downstream: Record<string, unknown>, methods: unknown[]) {
  const experiment = experimentSchema.parse({
    name: 'student',
    dataset: { source: 'images', folder: data, test_fraction: 0.34 },
    pretrained: [{ name: 'noise', noise: 8 }],
    downstream: { model: 'pretrained', ...downstream },
    methods,
    beta: { kd: 1, aft: 1, 'aft-no-kernel': 1, rkd: 1, ft: 1, btune: 1 },
    train: { steps: 3, batch: 4, eval_every: 3, lr: 1e-3 },
  });
  return runExperiment({ experiment, baseDir: ws, sourceText: '' }, { workspaceDir: ws });
}

describe('training a pretrained ResNet student', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
    await writeImageFolder(data, 6);
  });

  let firstCheckpoint = '';

  it('trains with every method and saves each in the hub layout', async () => {
    const methods = ['stl', 'kd', 'aft', 'aft-no-kernel', 'rkd', 'ft', 'btune'];
    const out = await run({ folder: path.join(fixtures, 'resnet18-tiny') }, methods);
    assert.deepEqual(Object.keys(out.summary.methods), methods);
    for (const [name, m] of Object.entries(out.summary.methods))
      assert.ok(Number.isFinite(m.test_accuracy.mean), `${name}: ${m.test_accuracy.mean}`);
    const source = readSafetensors(path.join(fixtures, 'resnet18-tiny', 'model.safetensors')).tensors;
    for (const m of methods) {
      const dir = path.join(out.dir, 'checkpoints', `${m}-seed-0`);
      const hub = readHubFolder(dir);
      assert.deepEqual(hub.shape, { arch: 'resnet18', width: 8, inChannels: 3, numClasses: 3 });
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as {
        num_classes: number;
        pretrained_cfg: { num_classes: number; interpolation: string };
      };
      assert.equal(config.num_classes, 3);
      assert.equal(config.pretrained_cfg.num_classes, 3);
      assert.equal(config.pretrained_cfg.interpolation, 'bicubic');
      const saved = readSafetensors(path.join(dir, 'model.safetensors'));
      assert.equal(saved.metadata.method, m);
      assert.deepEqual(Object.keys(saved.tensors).sort(), Object.keys(source).sort());
      // 12 training images at batch 4: 3 steps, each moving every BatchNorm's statistics.
      assert.equal(saved.tensors['layer4.1.bn2.num_batches_tracked'].data[0], 7 + 3);
      assert.notDeepEqual(
        Array.from(saved.tensors['bn1.running_mean'].data),
        Array.from(source['bn1.running_mean'].data),
      );
      assert.notDeepEqual(
        Array.from(saved.tensors['layer1.0.conv1.weight'].data),
        Array.from(source['layer1.0.conv1.weight'].data),
      );
    }
    firstCheckpoint = path.join(out.dir, 'checkpoints', 'stl-seed-0');
    const onnx = path.join(ws, 'm.onnx');
    const report = await exportRun({ runDir: out.dir, method: 'aft', out: onnx, log: () => {} });
    assert.equal(report.model, 'pretrained');
    assert.equal(report.verification.examples, out.summary.dataset.test);
    assert.ok(report.verification.maxAbsDiff <= 1e-4, `max |Δ logit| ${report.verification.maxAbsDiff}`);
    assert.ok(fs.statSync(onnx).size > 0);
    assert.ok((report.parameters ?? 0) > 0);
  });

  it('starts from a saved student (its folder, head kept) with BatchNorm frozen', async () => {
    assert.ok(firstCheckpoint);
    const out = await run({ folder: firstCheckpoint, head: 'keep', batchnorm: 'frozen' }, ['stl']);
    const before = readSafetensors(path.join(firstCheckpoint, 'model.safetensors')).tensors;
    const after = readSafetensors(path.join(out.dir, 'checkpoints', 'stl-seed-0', 'model.safetensors')).tensors;
    // The kept head trained on; frozen statistics did not move.
    assert.notDeepEqual(Array.from(after['fc.weight'].data), Array.from(before['fc.weight'].data));
    assert.deepEqual(
      Array.from(after['layer2.0.bn1.running_var'].data),
      Array.from(before['layer2.0.bn1.running_var'].data),
    );
    assert.equal(after['layer2.0.bn1.num_batches_tracked'].data[0], 10);
  });

  it('refuses a student that cannot read the dataset before extracting anything', async () => {
    const experiment = experimentSchema.parse({
      name: 'mnist-student',
      dataset: { source: 'mnist', train: 20, test: 20 },
      downstream: { model: 'pretrained', folder: path.join(fixtures, 'resnet18-tiny') },
      methods: ['stl'],
      train: { batch: 8 },
    });
    await assert.rejects(
      runExperiment({ experiment, baseDir: ws, sourceText: '' }, { workspaceDir: ws }),
      (e: unknown) => e instanceof AftError && /reads images \[height, width, 3\].*\[28, 28, 1\]/.test(e.message),
    );
  });
});

describe('training a pretrained ViT, Mixer or EfficientNet student', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
    if (!fs.existsSync(data)) await writeImageFolder(data, 6);
  });

  const CASES = [
    {
      name: 'vit-tiny',
      methods: ['stl', 'kd', 'aft', 'aft-no-kernel', 'rkd', 'ft', 'btune'],
      stem: 'patch_embed.proj.weight',
      size: 32,
    },
    { name: 'mixer-tiny', methods: ['stl', 'aft'], stem: 'stem.proj.weight', size: 32 },
    {
      name: 'effnet-tiny',
      methods: ['stl', 'kd', 'aft', 'aft-no-kernel', 'rkd', 'ft', 'btune'],
      stem: 'conv_stem.weight',
      size: 36,
    },
  ];
  for (const c of CASES) {
    it(`${c.name}: trains with ${c.methods.join(', ')}, saves each in the hub layout, exports verified`, async () => {
      const out = await run({ folder: path.join(fixtures, c.name) }, c.methods);
      assert.deepEqual(Object.keys(out.summary.methods), c.methods);
      assert.deepEqual(out.summary.dataset.inputShape, [c.size, c.size, 3]);
      const source = readSafetensors(path.join(fixtures, c.name, 'model.safetensors')).tensors;
      for (const m of c.methods) {
        assert.ok(Number.isFinite(out.summary.methods[m].test_accuracy.mean), m);
        const dir = path.join(out.dir, 'checkpoints', `${m}-seed-0`);
        const hub = readHubFolder(dir);
        assert.equal(hub.shape.numClasses, 3);
        const saved = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
        assert.deepEqual(Object.keys(saved).sort(), Object.keys(source).sort());
        assert.notDeepEqual(Array.from(saved[c.stem].data), Array.from(source[c.stem].data), `${m} trained the stem`);
      }
      const onnx = path.join(ws, `${c.name}.onnx`);
      const report = await exportRun({ runDir: out.dir, method: 'aft', out: onnx, log: () => {} });
      assert.equal(report.verification.examples, out.summary.dataset.test);
      assert.ok(report.verification.maxAbsDiff <= 1e-4, `max |Δ logit| ${report.verification.maxAbsDiff}`);
    });
  }
});
