/**
 * The Hugging Face student pipeline end to end through the CLI: a BERT-layout student
 * (test/fixtures/students/bert-tiny, make_bert.py) fine-tuned with STL and AFT on the features of
 * the tiny-bert ONNX teacher on reviews.csv, its prompts tokenised with the student's own
 * tokenizer.json (cut to its 16 positions); then `aft export` (verified against tfjs) and
 * `aft predict` on the saved checkpoint, which give the run's own test accuracy, the ONNX file's
 * logits, and the same logits from the test prompts as a CSV.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeNpy, readNpy } from '../../core/node/io/npy';
import { listRuns, readSummary } from '../../core/node/runs/store';
import { loadExperimentDataset } from '../../sidecar/src/data/load';
import { loadExperiment } from '../../sidecar/src/experiment/load';
import { tokenFeeds } from '../../sidecar/src/export/bert';
import { OnnxSession } from '../../sidecar/src/runtime/onnx';
import { relErr } from '../helpers/numeric';
import { runAft } from '../helpers/cli';

const fixtures = path.join(__dirname, '..', 'fixtures');
const aft = (args: string[], cwd: string) => runAft([...args, '--backend', 'wasm'], cwd);

describe('a BERT student from a Hugging Face folder, end to end', () => {
  it('fine-tuned with AFT on a text teacher, exported and predicted: the run’s own outputs', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-hf-student-'));
    fs.cpSync(path.join(fixtures, 'hf'), path.join(ws, 'hf'), { recursive: true });
    fs.cpSync(path.join(fixtures, 'students', 'bert-tiny'), path.join(ws, 'bert-tiny'), { recursive: true });
    const file = path.join(ws, 'exp.aft.yaml');
    fs.writeFileSync(
      file,
      `name: bert-student
dataset: { source: text, train: hf/reviews.csv, text: sentence, template: "Review: \\"{sentence}\\"\\n Sentiment:", max_length: 32, test_fraction: 0.25 }
pretrained:
  - { name: teacher, onnx: { folder: hf/tiny-bert, pooling: mean, batch: 16 } }
downstream: { model: pretrained, folder: bert-tiny }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 12, batch: 12, eval_every: 6 }
`,
    );
    const run = aft(['run', 'exp.aft.yaml'], ws);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr + run.stdout, /texts cut to 16 tokens for the student \(its max_position_embeddings\)/);
    const dir = listRuns(ws).find((x) => x.status.experiment === 'bert-student')!.dir;
    const summary = readSummary(dir)!;
    assert.deepEqual(summary.dataset.inputShape, [16]);
    const ck = path.join(dir, 'checkpoints', 'aft-seed-0');
    assert.deepEqual(fs.readdirSync(ck).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
    const config = JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
    assert.equal(config.num_labels, 2);

    // The test split as the run saw it: the student's ids (-1 padding) → input_ids and attention_mask.
    const loaded = loadExperiment(file);
    const ds = await loadExperimentDataset(loaded.experiment, loaded.baseDir);
    const n = ds.test.n;
    const feeds = tokenFeeds(ds.test.x, n, 0);
    fs.writeFileSync(path.join(ws, 'ids.npy'), encodeNpy(feeds.input_ids.data, [n, 16]));
    fs.writeFileSync(path.join(ws, 'mask.npy'), encodeNpy(feeds.attention_mask.data, [n, 16]));

    const exp = aft(['export', path.basename(dir), '--method', 'aft', '--out', 'student.onnx'], ws);
    assert.equal(exp.code, 0, exp.stderr);
    assert.match(exp.stdout, /verified on \d+ test examples: max \|logit difference\| [\d.e-]+ \(limit 0\.0001\)/);

    const pred = aft(
      [
        'predict',
        path.basename(dir),
        '--method',
        'aft',
        '--input',
        'ids.npy',
        '--attention-mask',
        'mask.npy',
        '--out',
        'l.npy',
      ],
      ws,
    );
    assert.equal(pred.code, 0, pred.stderr);
    const logits = readNpy(path.join(ws, 'l.npy'));
    assert.deepEqual(logits.shape, [n, 2]);
    let correct = 0;
    for (let i = 0; i < n; i++) if ((logits.data[2 * i + 1] > logits.data[2 * i] ? 1 : 0) === ds.test.y[i]) correct++;
    assert.equal(correct / n, summary.methods.aft.test_accuracy.per_seed['0']);

    // The ONNX file on the same ids and mask.
    const session = await OnnxSession.open(path.join(ws, 'student.onnx'), { device: 'cpu', log: () => {} });
    try {
      const onnx = (await session.run(feeds, ['logits'])).logits.data as Float32Array;
      const err = relErr(onnx, logits.data);
      console.log(`BERT student: aft predict vs its ONNX export on ${n} test prompts: ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `ONNX vs predict ${err}`);
    } finally {
      await session.release();
    }

    // The checkpoint folder itself, on the test prompts as a table: tokenised with its own tokenizer.json.
    const prompts = ds.raw!.test.map((t) => `"${t.replace(/"/g, '""')}"`);
    fs.writeFileSync(path.join(ws, 'test.csv'), `text\n${prompts.join('\n')}\n`);
    const fromCsv = aft(['predict', ck, '--input', 'test.csv', '--out', 'csv.npy'], ws);
    assert.equal(fromCsv.code, 0, fromCsv.stderr);
    assert.ok(relErr(readNpy(path.join(ws, 'csv.npy')).data, logits.data) < 1e-5);
  });
});
