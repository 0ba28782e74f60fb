/**
 * The "done" path, end to end in-process: an experiment pointing at a Hugging Face ONNX
 * folder and an image folder (or a CSV with a tokenizer.json) runs, caches the features, trains
 * STL and AFT, reuses the cache on the next run, and exports the small model to ONNX with logits
 * matching the trained model's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadExperiment } from '../../sidecar/src/experiment/load';
import { exportRun } from '../../sidecar/src/export/exportRun';
import type { LogEvent, RunEvent, RunSummary } from '../../core/common/protocol/events';
import { readRunStatus } from '../../core/node/runs/store';
import { initBackend } from '../../sidecar/src/runtime/tf';
import { runExperiment } from '../../sidecar/src/train/run';

const fixtures = path.join(__dirname, '..', 'fixtures');

/** A workspace with the committed HF fixtures and an experiment file next to them. */
function workspace(yaml: string): { ws: string; file: string } {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-hf-'));
  fs.cpSync(path.join(fixtures, 'hf'), path.join(ws, 'hf'), { recursive: true });
  const file = path.join(ws, 'exp.aft.yaml');
  fs.writeFileSync(file, yaml);
  return { ws, file };
}

async function run(file: string, ws: string): Promise<{ summary: RunSummary; dir: string; events: RunEvent[] }> {
  const loaded = loadExperiment(file);
  const events: RunEvent[] = [];
  const out = await runExperiment(
    { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: fs.readFileSync(file, 'utf8') },
    { workspaceDir: ws, sink: (e) => events.push(e) },
  );
  return { summary: out.summary, dir: out.dir, events };
}

const logs = (events: RunEvent[]): string[] =>
  events.filter((e): e is LogEvent => e.type === 'log').map((e) => e.message);

describe('Hugging Face ONNX folders end to end', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  it('images: extract + cache, AFT on a CNN, cache reused, export verified', async () => {
    const { ws, file } = workspace(`name: hf-images
dataset: { source: images, folder: hf/images, size: [16, 16], test_fraction: 0.25 }
pretrained:
  - { name: vit, onnx: { folder: hf/tiny-vit, output: last_hidden_state, pooling: cls, batch: 5 } }
downstream: { model: cnn, channels: [4], hidden: [16] }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 30, batch: 6, eval_every: 15 }
`);
    const first = await run(file, ws);
    assert.equal(readRunStatus(first.dir).state, 'completed');
    assert.deepEqual(Object.keys(first.summary.methods), ['stl', 'aft']);
    assert.deepEqual(
      first.summary.sources.map((s) => [s.name, s.kind, s.width]),
      [['vit', 'onnx', 8]],
    );
    assert.ok(
      logs(first.events).some((l) => /vit: extracting 24 of 24 examples/.test(l)),
      logs(first.events).join('\n'),
    );
    const extracting = first.events.filter((e) => e.type === 'progress' && e.itemsPerSecond !== undefined);
    assert.ok(extracting.length > 0, 'extraction reports items/s');
    const cacheDirs = fs.readdirSync(path.join(ws, '.aft', 'cache', 'features')).filter((n) => n !== 'model-hashes');
    assert.equal(cacheDirs.length, 1);
    const meta = JSON.parse(
      fs.readFileSync(path.join(ws, '.aft', 'cache', 'features', cacheDirs[0], 'meta.json'), 'utf8'),
    ) as { rows: { train: number; test: number }; width: number };
    assert.deepEqual([meta.rows.train + meta.rows.test, meta.width], [24, 8]);

    const second = await run(file, ws);
    assert.ok(logs(second.events).some((l) => /vit: features from the cache/.test(l)));
    assert.ok(!logs(second.events).some((l) => /extracting/.test(l)));
    assert.deepEqual(
      second.summary.methods.stl.test_accuracy,
      first.summary.methods.stl.test_accuracy,
      'same features, same result',
    );

    const out = path.join(ws, 'small.onnx');
    const report = await exportRun({ runDir: first.dir, out, log: () => {} });
    assert.equal(report.method, 'aft');
    assert.ok(report.verification.maxAbsDiff <= 1e-4, `max |Δ| ${report.verification.maxAbsDiff}`);
    assert.equal(report.verification.examples, 6);
    assert.deepEqual(
      report.cost.models.map((m) => m.kind),
      ['downstream', 'pretrained'],
    );
    assert.ok(report.cost.models.every((m) => m.msPerExample > 0 && (m.parameters ?? 0) > 0));
    assert.ok(fs.statSync(out).size > 0);
  });

  it('text: CSV + template + tokenizer.json, mean-pooled BERT-like features, AFT on a transformer', async () => {
    const { ws, file } = workspace(`name: hf-text
dataset: { source: text, train: hf/reviews.csv, text: sentence, template: "Review: \\"{sentence}\\"\\n Sentiment:", max_length: 20, test_fraction: 0.25 }
pretrained:
  - { name: bert, onnx: { folder: hf/tiny-bert, pooling: mean, batch: 16 } }
downstream: { model: transformer, layers: 1, width: 16, heads: 2, hidden: [16] }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 12, batch: 12, eval_every: 6 }
`);
    const r = await run(file, ws);
    assert.equal(readRunStatus(r.dir).state, 'completed');
    assert.deepEqual(r.summary.dataset.inputShape, [20]);
    assert.ok(r.summary.methods.aft.rho_mean_by_source!.bert !== undefined);
    assert.ok(fs.existsSync(path.join(r.dir, 'checkpoints', 'aft-seed-0.safetensors')));
    await assert.rejects(
      exportRun({ runDir: r.dir, out: path.join(ws, 't.onnx'), log: () => {} }),
      /export supports the mlp, cnn and pretrained/,
    );
  });
});
