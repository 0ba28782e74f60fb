/**
 * `aft predict` as a user checks an import or a trained model: a student folder (the fixtures'
 * torchvision ResNets, timm-layout ViT, Mixer and EfficientNet) on PyTorch's own input gives PyTorch's logits and φ; a run's model gives
 * the test accuracy the run reported; bad inputs get exit 2 naming the file and what was expected.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeNpy, readNpy } from '../../core/node/io/npy';
import { readSafetensors } from '../../core/node/io/safetensors';
import { listRuns, readSummary } from '../../core/node/runs/store';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';
import { relErr } from '../helpers/numeric';
import { runAft } from '../helpers/cli';
import { writeImageFolder } from '../helpers/hf';
import { studentImagePreprocess } from '../../sidecar/src/models/pretrained';
import { preprocessImage } from '../../sidecar/src/features/imagePreprocess';

const root = path.join(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'students');

const aft = (args: string[], cwd: string) => runAft([...args, '--backend', 'cpu'], cwd);

describe('aft predict', () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-predict-'));

  for (const name of ['resnet18-tiny', 'resnet50-tiny', 'vit-tiny', 'mixer-tiny', 'effnet-tiny']) {
    it(`${name}: a student folder on PyTorch's input gives PyTorch's logits and φ (1e-4)`, () => {
      const ref = readSafetensors(path.join(fixtures, `${name}.reference.safetensors`)).tensors;
      const input = path.join(ws, `${name}.x.npy`);
      fs.writeFileSync(input, encodeNpy(ref.input.data, ref.input.shape));
      const r = aft(
        [
          'predict',
          path.join(fixtures, name),
          '--input',
          input,
          '--out',
          `${name}.logits.npy`,
          '--features',
          `${name}.phi.npy`,
        ],
        ws,
      );
      assert.equal(r.code, 0, r.stderr);
      const logits = readNpy(path.join(ws, `${name}.logits.npy`));
      const phi = readNpy(path.join(ws, `${name}.phi.npy`));
      assert.deepEqual(logits.shape, ref['eval.logits'].shape);
      assert.deepEqual(phi.shape, ref['eval.features'].shape);
      const errs = {
        logits: relErr(logits.data, ref['eval.logits'].data),
        phi: relErr(phi.data, ref['eval.features'].data),
      };
      console.log(
        `aft predict ${name} vs PyTorch: logits ${errs.logits.toExponential(2)}, φ ${errs.phi.toExponential(2)}`,
      );
      assert.ok(errs.logits < 1e-4 && errs.phi < 1e-4, JSON.stringify(errs));
    });
  }

  it("a folder of images: prepared as the student's pretrained_cfg says, one row per image in name order", async () => {
    const folder = path.join(fixtures, 'resnet18-tiny');
    const classes = path.join(ws, 'image-classes');
    await writeImageFolder(classes, 3);
    const images = path.join(ws, 'images');
    fs.mkdirSync(images);
    for (const c of fs.readdirSync(classes))
      for (const f of fs.readdirSync(path.join(classes, c)))
        fs.copyFileSync(path.join(classes, c, f), path.join(images, `${c}-${f}`));
    fs.writeFileSync(path.join(images, 'notes.txt'), 'not an image');
    const names = fs
      .readdirSync(images)
      .filter((n) => n !== 'notes.txt')
      .sort();
    // The same images through the .npy path, prepared here by the dataset's own code, NCHW.
    const p = studentImagePreprocess({ folder }, folder);
    const size = p.height * p.width * p.channels;
    const nhwc = new Float32Array(names.length * size);
    for (const [i, n] of names.entries()) nhwc.set(await preprocessImage(path.join(images, n), p), i * size);
    const nchw = new Float32Array(nhwc.length);
    for (let i = 0; i < names.length; i++)
      for (let y = 0; y < p.height; y++)
        for (let x = 0; x < p.width; x++)
          for (let c = 0; c < p.channels; c++)
            nchw[((i * p.channels + c) * p.height + y) * p.width + x] =
              nhwc[i * size + (y * p.width + x) * p.channels + c];
    fs.writeFileSync(path.join(ws, 'images.npy'), encodeNpy(nchw, [names.length, p.channels, p.height, p.width]));
    let r = aft(['predict', folder, '--input', 'images', '--out', 'from-images.npy'], ws);
    assert.equal(r.code, 0, r.stderr);
    r = aft(['predict', folder, '--input', 'images.npy', '--out', 'from-npy.npy'], ws);
    assert.equal(r.code, 0, r.stderr);
    const a = readNpy(path.join(ws, 'from-images.npy'));
    assert.deepEqual(a.shape, [names.length, 10]);
    assert.deepEqual(a.data, readNpy(path.join(ws, 'from-npy.npy')).data);
    assert.equal(fs.readFileSync(path.join(ws, 'from-images.files.txt'), 'utf8'), names.join('\n') + '\n');
    // A file that is not an image under an image's name is named; an empty folder is said.
    fs.writeFileSync(path.join(images, 'zz-broken.png'), 'not a png');
    r = aft(['predict', folder, '--input', 'images', '--out', 'x.npy'], ws);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /zz-broken\.png: cannot read this image/);
    fs.mkdirSync(path.join(ws, 'empty'));
    r = aft(['predict', folder, '--input', 'empty', '--out', 'x.npy'], ws);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /empty: no images \(\.png, \.jpg, \.jpeg, \.webp\) in this folder/);
  });

  it("a run's model gives the test accuracy the run reported", () => {
    writeArrayWorkspace(ws, { train: 200, test: 60 });
    fs.writeFileSync(
      path.join(ws, 'exp.aft.yaml'),
      `name: arrays
dataset: { source: npy, train: { inputs: x_train.npy, labels: y_train.npy }, test: { inputs: x_test.npy, labels: y_test.npy } }
downstream: { model: mlp, hidden: [16] }
methods: [stl]
train: { steps: 30, batch: 20 }
seeds: [0, 1]
`,
    );
    const run = aft(['run', 'exp.aft.yaml'], ws);
    assert.equal(run.code, 0, run.stderr);
    const dir = listRuns(ws).find((x) => x.status.experiment === 'arrays')!.dir;
    const perSeed = readSummary(dir)!.methods.stl.test_accuracy.per_seed;
    const labels = readNpy(path.join(ws, 'y_test.npy')).data;
    for (const seed of [0, 1]) {
      const r = aft(
        ['predict', path.basename(dir), '--seed', String(seed), '--input', 'x_test.npy', '--out', `l${seed}.npy`],
        ws,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`stl seed ${seed} \\(mlp\\)`));
      const l = readNpy(path.join(ws, `l${seed}.npy`));
      assert.deepEqual(l.shape, [60, 2]);
      let correct = 0;
      for (let i = 0; i < 60; i++) if ((l.data[2 * i + 1] > l.data[2 * i] ? 1 : 0) === labels[i]) correct++;
      assert.equal(correct / 60, perSeed[String(seed)]);
    }
  });

  it('refuses inputs of the wrong shape or type, and a call with nothing to write, naming what', () => {
    const cases: { args: string[]; says: RegExp }[] = [
      {
        args: ['predict', path.join(fixtures, 'resnet18-tiny'), '--input', 'x_test.npy', '--out', 'o.npy'],
        says: /x_test\.npy.*expected images \[N, 3, H, W\].*got \[60, 8\]/,
      },
      {
        args: ['predict', path.join(fixtures, 'resnet18-tiny'), '--input', 'y_test.npy', '--out', 'o.npy'],
        says: /y_test\.npy.*expected float32 inputs, got int32/,
      },
      { args: ['predict', path.join(fixtures, 'resnet18-tiny'), '--input', 'x_test.npy'], says: /needs --out/ },
      {
        args: ['predict', path.join(fixtures, 'vit-tiny'), '--input', 'resnet18-tiny.x.npy', '--out', 'o.npy'],
        says: /resnet18-tiny\.x\.npy.*expected images \[N, 3, 32, 32\].*got \[4, 3, 36, 36\]/,
      },
      { args: ['predict', 'no-such-run', '--input', 'x_test.npy', '--out', 'o.npy'], says: /no run 'no-such-run'/ },
    ];
    for (const c of cases) {
      const r = aft(c.args, ws);
      assert.equal(r.code, 2, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.says);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(!fs.existsSync(path.join(ws, 'o.npy')));
    }
  });
});
