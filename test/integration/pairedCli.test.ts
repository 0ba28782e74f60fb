/**
 * Paired image + text data through the `aft` CLI (paper §4.3 in miniature): "does the caption
 * match the image" rows (test/fixtures/paired, made by make-paired.ts), a two-tower student whose
 * φ is the tensor product of its towers' features, and per-modality sources (the tiny ViT reads
 * the images, the tiny BERT the captions, and a `product` source is their tensor product). Every method trains, the loss falls, outputs are
 * written, ρ has one block per source; export refuses the two-tower model clearly, and a missing
 * image is bad input naming the table's line.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensors } from '../../core/node/io/safetensors';
import { listRuns, readSummary } from '../../core/node/runs/store';
import { runAft } from '../helpers/cli';

const fixtures = path.join(__dirname, '..', 'fixtures');
const backend = process.env.AFT_TEST_BACKEND ?? 'wasm';
const METHODS = ['stl', 'kd', 'aft', 'rkd', 'ft', 'btune'];

function workspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-paired-cli-'));
  for (const f of ['hf', 'paired']) fs.cpSync(path.join(fixtures, f), path.join(ws, f), { recursive: true });
  return ws;
}

const experiment = (train: string): string => `name: paired
dataset: { source: paired, train: ${train}, text: caption, label: match, tokenizer: paired/tokenizer.json, size: [16, 16], max_length: 8, test_fraction: 0.25 }
pretrained:
  - { name: vit, onnx: { folder: hf/tiny-vit, output: last_hidden_state, pooling: cls, batch: 8 } }
  - { name: bert, onnx: { folder: hf/tiny-bert, pooling: mean, batch: 16 } }
  - { name: both, product: [vit, bert] }
downstream:
  model: two-tower
  image: { model: cnn, channels: [4], hidden: [] }
  text: { layers: 1, width: 16, heads: 2 }
  features: [4, 4]
methods: [${METHODS.join(', ')}]
beta: { kd: 1, aft: 1, rkd: 1, ft: 1, btune: 1 }
train: { steps: 60, batch: 12, eval_every: 6, lr: 0.003 }
`;

describe('paired image + text data through the CLI', () => {
  it('trains every method on a two-tower student with per-modality sources', () => {
    const ws = workspace();
    fs.writeFileSync(path.join(ws, 'exp.aft.yaml'), experiment('paired/pairs.csv'));
    const r = runAft(['run', 'exp.aft.yaml', '--backend', backend], ws);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = r.stdout + r.stderr;
    assert.match(out, /vit reads the images of the paired dataset/);
    assert.match(out, /bert reads the texts of the paired dataset/);
    const dir = listRuns(ws).find((x) => x.status.experiment === 'paired')!.dir;
    assert.equal(listRuns(ws).find((x) => x.dir === dir)!.status.state, 'completed');
    const summary = readSummary(dir)!;
    assert.deepEqual(summary.dataset.inputShape, [16 * 16 * 3 + 8]);
    assert.deepEqual(Object.keys(summary.methods), METHODS);
    assert.deepEqual(
      summary.sources.map((s) => [s.name, s.kind, s.width]),
      [
        ['vit', 'onnx', 8],
        ['bert', 'onnx', 8],
        ['both', 'product', 64],
      ],
    );

    // Real training: each method's batch cross-entropy (noisy: one batch) over its last three
    // evaluations is below its first, and it fits more of the training set at the end.
    const rows = fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { method: string; phase: string; step: number; ce: number; trainAccuracy: number });
    for (const m of METHODS) {
      const curve = rows.filter((x) => x.method === m && x.phase === 'final').sort((a, b) => a.step - b.step);
      assert.equal(curve.length, 10, `${m}: ${curve.length} evaluations`);
      const said = `${m}: cross-entropy ${curve.map((x) => x.ce.toFixed(3)).join(' → ')}`;
      const lastThree = curve.slice(-3).reduce((a, x) => a + x.ce, 0) / 3;
      assert.ok(lastThree < curve[0].ce, said);
      assert.ok(curve.at(-1)!.trainAccuracy > curve[0].trainAccuracy, `${m}: training accuracy`);
      const ck = readSafetensors(path.join(dir, 'checkpoints', `${m}-seed-0.safetensors`)).tensors;
      const keys = Object.keys(ck);
      for (const prefix of ['image.', 'text.', 'head.'])
        assert.ok(
          keys.some((k) => k.startsWith(prefix)),
          m,
        );
      assert.deepEqual(ck['head.w'].shape, [16, 2], 'the head reads φ = 4 × 4 tensor-product features');
    }

    // ρ: one block per source, in order, as the heatmap and the summary show them.
    const rho = JSON.parse(fs.readFileSync(path.join(dir, 'rho', 'aft', 'seed-0.json'), 'utf8')) as {
      segments: { name: string; offset: number; width: number }[];
      values: number[];
    };
    assert.deepEqual(
      rho.segments.map((s) => [s.name, s.offset, s.width]),
      [
        ['vit', 0, 8],
        ['bert', 8, 8],
        ['both', 16, 64],
      ],
    );
    assert.equal(rho.values.length, 80);
    assert.deepEqual(Object.keys(summary.methods.aft.rho_mean_by_source!), ['vit', 'bert', 'both']);

    const exp = runAft(['export', dir, '--out', 'm.onnx', '--backend', backend], ws);
    assert.equal(exp.code, 2, exp.stderr);
    assert.match(exp.stderr, /trained a two-tower, which has no ONNX export yet/);
  });

  it('refuses a missing image with the table line, before a run folder exists', () => {
    const ws = workspace();
    const table = fs.readFileSync(path.join(ws, 'paired', 'pairs.csv'), 'utf8').split('\n');
    table[3] = table[3].replace(/red-1\.jpg/, 'red-99.jpg');
    fs.writeFileSync(path.join(ws, 'paired', 'broken.csv'), table.join('\n'));
    fs.writeFileSync(path.join(ws, 'exp.aft.yaml'), experiment('paired/broken.csv'));
    const r = runAft(['run', 'exp.aft.yaml', '--backend', backend], ws);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /broken\.csv:4:1: dataset\.image: image file not found: .*red-99\.jpg/);
    assert.equal(listRuns(ws).length, 0);
  });
});
