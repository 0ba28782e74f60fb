/**
 * BERT and DistilBERT students against PyTorch (test/fixtures/students/make_bert.py: transformers'
 * module names and semantics in plain PyTorch, seeded random weights, hidden 32, 2 layers, 2
 * heads, batches of 4 × 8 token ids with and without padding): eval-mode logits and φ, one
 * training step's gradients, on every backend that loads; a bare encoder gets a new head; dropout;
 * a trained student saved in transformers' layout and loaded back (AFT_ROUNDTRIP_DIR keeps the
 * folders with check.safetensors for `make_bert.py check`); the ONNX export run by onnxruntime.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../../core/node/experiment/schema';
import { encodeSafetensors, readSafetensors, type StTensor } from '../../../core/node/io/safetensors';
import { loadExperimentDataset } from '../../../sidecar/src/data/load';
import { loadTokenizer } from '../../../sidecar/src/data/tokenizer';
import { loadExperiment } from '../../../sidecar/src/experiment/load';
import { exportStudent, studentParameterCount } from '../../../sidecar/src/export/student';
import { crossEntropy } from '../../../sidecar/src/methods/regularizers';
import {
  createPretrainedStudent,
  hubFiles,
  readHubFolder,
  studentImagePreprocess,
  type PretrainedStudent,
} from '../../../sidecar/src/models/pretrained';
import { OnnxSession } from '../../../sidecar/src/runtime/onnx';
import { initBackend, tf } from '../../../sidecar/src/runtime/tf';
import { Optimizer } from '../../../sidecar/src/train/optimizer';
import { startTestBackend, TEST_BACKENDS } from '../../helpers/backends';
import { relErr } from '../../helpers/numeric';
import { studentVariant, type FolderChange } from '../../helpers/studentFolders';
import { assertParity, assertRefused, evalLogits, tokenInput, writeRoundTripCheck } from '../../helpers/studentParity';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bert-'));
const TEXT_CASES = [
  { name: 'bert-tiny', arch: 'bert', prefix: 'bert.' },
  { name: 'distilbert-tiny', arch: 'distilbert', prefix: 'distilbert.' },
] as const;
const T = 8;
/** The fixtures' vocabulary (make_bert.py: 5 special tokens + 44 words). */
const VOCAB = 49;

const spec = (folder: string, extra: Record<string, unknown> = {}) =>
  downstreamSchema.parse({ model: 'pretrained', folder, ...extra });
const reference = (name: string, batch: '' | '.nopad' = ''): Record<string, StTensor> =>
  readSafetensors(path.join(fixtures, `${name}${batch}.reference.safetensors`)).tensors;

for (const backend of TEST_BACKENDS) {
  describe(`BERT and DistilBERT students against PyTorch on ${backend}`, () => {
    before(async () => {
      await startTestBackend(backend);
    });

    for (const c of TEXT_CASES)
      for (const batch of ['', '.nopad'] as const) {
        it(`${c.name}${batch ? ' without' : ' with'} padding: eval logits and φ (1e-4), gradients (1e-3)`, async () => {
          await startTestBackend(backend);
          const model = createPretrainedStudent(
            spec(path.join(fixtures, c.name), { head: 'keep' }),
            [T],
            3,
            0,
            undefined,
            VOCAB,
          );
          try {
            await assertParity(
              `${c.name}${batch || '.padded'} on ${backend}`,
              model,
              reference(c.name, batch),
              tokenInput,
            );
          } finally {
            model.dispose();
          }
        });
      }
  });
}

describe('BERT and DistilBERT layout', () => {
  it("reads each fixture's shape from config.json and the tensors, and counts parameters as torch does", () => {
    const bert = readHubFolder(path.join(fixtures, 'bert-tiny'));
    assert.equal(bert.family.name, 'bert');
    assert.deepEqual(bert.shape, {
      arch: 'bert',
      numClasses: 3,
      prefix: 'bert.',
      vocab: VOCAB,
      maxPositions: 16,
      typeVocab: 2,
      hidden: 32,
      layers: 2,
      heads: 2,
      intermediate: 64,
      eps: 1e-12,
      padId: 0,
      dropout: { hidden: 0, attn: 0, classifier: 0 },
      initStd: 0.02,
    });
    // make_bert.py prints the torch counts: 20451 and 20387.
    assert.equal(studentParameterCount(bert.family, bert.shape), 20_451);
    const distil = readHubFolder(path.join(fixtures, 'distilbert-tiny'));
    assert.equal(distil.family.name, 'distilbert');
    assert.equal(studentParameterCount(distil.family, distil.shape), 20_387);
  });

  for (const c of TEXT_CASES)
    it(`${c.name}: a bare ${c.arch} encoder (no prefix, no head) gets a new head; its φ is the classifier's`, async () => {
      await initBackend('cpu');
      // A bare encoder as transformers saves it: the keys without the prefix, no classifier (nor pre_classifier).
      const src = path.join(fixtures, c.name);
      const state = readSafetensors(path.join(src, 'model.safetensors')).tensors;
      const bare: Record<string, StTensor> = {};
      for (const [k, t] of Object.entries(state)) if (k.startsWith(c.prefix)) bare[k.slice(c.prefix.length)] = t;
      const dir = path.join(tmp, `${c.name}-bare`);
      fs.mkdirSync(dir, { recursive: true });
      const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
      delete config.id2label;
      delete config.label2id;
      config.architectures = [c.arch === 'bert' ? 'BertModel' : 'DistilBertModel'];
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(bare));
      fs.copyFileSync(path.join(src, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
      const hub = readHubFolder(dir);
      assert.equal(hub.shape.numClasses, 0);
      assert.throws(
        () => createPretrainedStudent(spec(dir, { head: 'keep' }), [T], 3, 0, undefined, VOCAB),
        /`head: keep` needs a classification head, and the folder has none/,
      );
      const ref = reference(c.name);
      const model = createPretrainedStudent(spec(dir), [T], 4, 0, undefined, VOCAB);
      try {
        assert.ok(
          model.params.has('classifier.weight') && model.params.has(`${c.prefix}embeddings.word_embeddings.weight`),
        );
        if (c.arch === 'distilbert') assert.ok(model.params.has('pre_classifier.weight'));
        const [logits, phiT] = tf.tidy(() => {
          const out = model.forward(tokenInput(ref));
          return [out.logits, out.phi];
        });
        assert.deepEqual(logits.shape, [4, 4]);
        const phi = (await phiT.data()) as Float32Array;
        const want = ref['eval.features'].data;
        assert.ok(Math.max(...phi.map((v, i) => Math.abs(v - want[i]))) < 1e-4, 'φ is the encoder’s');
        tf.dispose([logits, phiT]);
      } finally {
        model.dispose();
      }
    });
});

describe('a text student from scratch (`weights: random`)', () => {
  for (const c of TEXT_CASES)
    it(`${c.name}: transformers' initialisation (normal 0.02, the pad row 0, LayerNorm 1 and 0, biases 0), seeded`, async () => {
      await initBackend('cpu');
      const folder = path.join(fixtures, c.name);
      const states = await Promise.all(
        [5, 5, 6].map(async (seed) => {
          const m = createPretrainedStudent(spec(folder, { weights: 'random' }), [T], 3, seed, undefined, VOCAB);
          try {
            return await m.stateDict();
          } finally {
            m.dispose();
          }
        }),
      );
      const [a, again, other] = states;
      const word = a[`${c.prefix}embeddings.word_embeddings.weight`].data;
      assert.ok(
        word.subarray(0, 32).every((v) => v === 0),
        'the [PAD] row (pad_token_id 0) is 0',
      );
      const rest = word.subarray(32);
      const std = Math.sqrt(rest.reduce((x, v) => x + v * v, 0) / rest.length);
      assert.ok(Math.abs(std - 0.02) < 0.002, `word embeddings std ${std}`);
      const norm =
        c.arch === 'bert'
          ? 'bert.encoder.layer.0.output.LayerNorm'
          : 'distilbert.transformer.layer.0.output_layer_norm';
      assert.ok(a[`${norm}.weight`].data.every((v) => v === 1) && a[`${norm}.bias`].data.every((v) => v === 0));
      const bias =
        c.arch === 'bert'
          ? 'bert.encoder.layer.1.attention.self.query.bias'
          : 'distilbert.transformer.layer.1.attention.q_lin.bias';
      assert.ok(a[bias].data.every((v) => v === 0));
      assert.deepEqual(
        a[`${c.prefix}embeddings.position_embeddings.weight`].data,
        again[`${c.prefix}embeddings.position_embeddings.weight`].data,
      );
      assert.notDeepEqual(
        a[`${c.prefix}embeddings.position_embeddings.weight`].data,
        other[`${c.prefix}embeddings.position_embeddings.weight`].data,
      );
    });
});

describe('dropout of a text student', () => {
  it('acts in training only, as the config says, with masks from the seed', async () => {
    await initBackend('cpu');
    const src = path.join(fixtures, 'bert-tiny');
    const dir = path.join(tmp, 'bert-dropout');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['model.safetensors', 'tokenizer.json']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
    Object.assign(config, { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const ref = reference('bert-tiny');
    const logits = async (seed: number, mode: 'train' | 'eval'): Promise<Float32Array> => {
      const m = createPretrainedStudent(spec(dir, { head: 'keep' }), [T], 3, seed, undefined, VOCAB);
      try {
        const out = tf.tidy(() => m.forward(tokenInput(ref), mode).logits);
        const data = (await out.data()) as Float32Array;
        out.dispose();
        return data;
      } finally {
        m.dispose();
      }
    };
    const evalOut = await logits(0, 'eval');
    const want = ref['eval.logits'].data;
    assert.ok(Math.max(...evalOut.map((v, i) => Math.abs(v - want[i]))) < 1e-4, 'eval: no dropout');
    const a = await logits(0, 'train');
    assert.deepEqual(a, await logits(0, 'train'), 'the same seed gives the same masks');
    assert.notDeepEqual(a, evalOut, 'training drops out');
    assert.notDeepEqual(a, await logits(1, 'train'), 'another seed, other masks');
  });
});

describe('a trained BERT or DistilBERT student in the transformers layout', () => {
  for (const c of TEXT_CASES) {
    it(`${c.name}: trains a few steps, saves config.json + model.safetensors + tokenizer.json, loads back with the same logits`, async () => {
      await initBackend('cpu');
      const ref = reference(c.name);
      const src = path.join(fixtures, c.name);
      const model = createPretrainedStudent(spec(src), [T], 4, 3, undefined, VOCAB);
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
              () => crossEntropy(model.forward(tokenInput(ref), 'train').logits, y),
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
        assert.deepEqual(config.architectures, [
          c.arch === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification',
        ]);
        assert.equal(config.num_labels, 4);
        assert.deepEqual(config.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2', 3: 'LABEL_3' });
        assert.equal(config.model_type, c.arch);
        assert.deepEqual(
          fs.readFileSync(path.join(out, 'tokenizer.json')),
          fs.readFileSync(path.join(src, 'tokenizer.json')),
        );
        const saved = readSafetensors(path.join(out, 'model.safetensors')).tensors;
        const original = readSafetensors(path.join(src, 'model.safetensors')).tensors;
        assert.deepEqual(Object.keys(saved).sort(), Object.keys(original).sort());
        assert.deepEqual(saved['classifier.weight'].shape, [4, 32]);
        const word = `${c.prefix}embeddings.word_embeddings.weight`;
        const moved = relErr(saved[word].data, original[word].data);
        assert.ok(moved > 0 && moved < 0.05, `word embeddings moved by ${moved}`);

        reloaded = createPretrainedStudent(spec(out, { head: 'keep' }), [T], 4, 0, undefined, VOCAB);
        const [a, b] = await evalLogits([model, reloaded], () => tokenInput(ref));
        assert.deepEqual(b, a);
        // For make_bert.py's check mode: the inputs and aft's logits next to the folder.
        writeRoundTripCheck(
          out,
          { input_ids: { ...ref.input_ids, dtype: 'I64' }, attention_mask: { ...ref.attention_mask, dtype: 'I64' } },
          a,
          [4, 4],
        );
      } finally {
        model.dispose();
        reloaded?.dispose();
      }
    });
  }
});

describe('a BERT or DistilBERT student exported to ONNX', () => {
  for (const c of TEXT_CASES)
    for (const batch of ['', '.nopad'] as const) {
      it(`${c.name}${batch ? ' without' : ' with'} padding: onnxruntime gives PyTorch's eval logits and φ (1e-4)`, async () => {
        const hub = readHubFolder(path.join(fixtures, c.name));
        const ref = reference(c.name, batch);
        const [n] = ref.input_ids.shape;
        const file = path.join(tmp, `${c.name}${batch}.onnx`);
        fs.writeFileSync(file, exportStudent(hub, [T], { method: 'stl' }));
        const session = await OnnxSession.open(file, { device: 'cpu', log: () => {} });
        try {
          const int64 = (t: StTensor) => ({
            type: 'int64' as const,
            data: BigInt64Array.from(t.data, (v) => BigInt(v)),
            dims: t.shape,
          });
          const got = await session.run(
            { input_ids: int64(ref.input_ids), attention_mask: int64(ref.attention_mask) },
            ['logits', 'features'],
          );
          assert.deepEqual(got.logits.dims, [n, 3]);
          const errs = {
            logits: relErr(got.logits.data as Float32Array, ref['eval.logits'].data),
            phi: relErr(got.features.data as Float32Array, ref['eval.features'].data),
          };
          console.log(
            `${c.name}${batch || '.padded'} ONNX vs PyTorch: logits ${errs.logits.toExponential(2)}, φ ${errs.phi.toExponential(2)}`,
          );
          assert.ok(errs.logits < 1e-4 && errs.phi < 1e-4, JSON.stringify(errs));
        } finally {
          await session.release();
        }
      });
    }
});

let counter = 0;

/** A copy of a fixture folder with its config, tensors and files changed. */
function variant(from: string, change: FolderChange<Record<string, unknown>> = {}): string {
  return studentVariant(from, path.join(tmp, `v${counter++}`), change);
}

/** The state split into two shards with transformers' index, model.safetensors removed. */
function shard(dir: string, index: (map: Record<string, string>) => void = () => {}): void {
  const t = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
  fs.rmSync(path.join(dir, 'model.safetensors'));
  const keys = Object.keys(t);
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const map: Record<string, string> = {};
  keys.forEach((k, i) => (map[k] = names[i < keys.length / 2 ? 0 : 1]));
  for (const name of names)
    fs.writeFileSync(
      path.join(dir, name),
      encodeSafetensors(Object.fromEntries(keys.filter((k) => map[k] === name).map((k) => [k, t[k]]))),
    );
  index(map);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
}

const REFUSED: {
  name: string;
  from: string;
  change: Parameters<typeof variant>[1];
  message: RegExp;
  detail?: RegExp;
}[] = [
  {
    name: 'an unknown model_type, listing the known ones',
    from: 'bert-tiny',
    change: { config: (c) => (c.model_type = 'roberta') },
    message: /unknown model_type `roberta`; the known ones are bert, distilbert$/,
  },
  {
    name: 'a missing tensor',
    from: 'bert-tiny',
    change: { tensors: (t) => delete t['bert.encoder.layer.1.attention.self.key.bias'] },
    message:
      /model\.safetensors does not match a BertForSequenceClassification \(hidden 32, 2 layers, 2 heads, vocabulary 49, up to 16 tokens\) with 3 classes \(1 problem\)/,
    detail: /^missing: bert\.encoder\.layer\.1\.attention\.self\.key\.bias \[32\]$/,
  },
  {
    name: 'an extra tensor',
    from: 'distilbert-tiny',
    change: {
      tensors: (t) =>
        (t['distilbert.embeddings.token_type_embeddings.weight'] = { shape: [2, 32], data: new Float32Array(64) }),
    },
    message: /1 problem/,
    detail: /^unexpected: distilbert\.embeddings\.token_type_embeddings\.weight \[2, 32\]$/,
  },
  {
    name: 'a mis-shaped tensor, expected vs got',
    from: 'distilbert-tiny',
    change: {
      tensors: (t) =>
        (t['distilbert.transformer.layer.0.ffn.lin2.weight'] = { shape: [32, 48], data: new Float32Array(32 * 48) }),
    },
    message: /1 problem/,
    detail: /^mis-shaped: distilbert\.transformer\.layer\.0\.ffn\.lin2\.weight expected \[32, 64\], got \[32, 48\]$/,
  },
  {
    name: 'hidden_size contradicting the weights',
    from: 'bert-tiny',
    change: { config: (c) => (c.hidden_size = 768) },
    message: /config\.json says hidden_size 768, but bert\.embeddings\.word_embeddings\.weight \[49, 32\] gives 32/,
  },
  {
    name: 'the layers contradicting the weights',
    from: 'distilbert-tiny',
    change: { config: (c) => (c.n_layers = 6) },
    message: /config\.json says n_layers 6, but the weights' 2 layers gives 2/,
  },
  {
    name: 'labels contradicting the classifier',
    from: 'bert-tiny',
    change: { config: (c) => (c.id2label = { 0: 'neg', 1: 'pos' }) },
    message: /config\.json says 2 labels \(id2label\/num_labels\), but classifier\.weight has 3 rows/,
  },
  {
    name: 'heads that do not divide the width',
    from: 'bert-tiny',
    change: { config: (c) => (c.num_attention_heads = 3) },
    message: /3 heads do not divide the hidden size 32/,
  },
  {
    name: 'another activation',
    from: 'bert-tiny',
    change: { config: (c) => (c.hidden_act = 'gelu_new') },
    message: /only the exact GELU \(`gelu`\) is supported, got "gelu_new"/,
  },
  {
    name: 'relative position embeddings',
    from: 'bert-tiny',
    change: { config: (c) => (c.position_embedding_type = 'relative_key') },
    message: /only absolute position embeddings are supported, got "relative_key"/,
  },
  {
    name: 'a folder without its tokenizer, saying what to add',
    from: 'bert-tiny',
    change: { files: (d) => fs.rmSync(path.join(d, 'tokenizer.json')) },
    message: /no tokenizer\.json: a bert student tokenises the texts with its own tokenizer/,
    detail: /AutoTokenizer\.from_pretrained\('NAME'\)\.save_pretrained\('FOLDER'\)/,
  },
  {
    name: 'pickled weights, saying how to convert them',
    from: 'distilbert-tiny',
    change: {
      files: (d) => {
        fs.rmSync(path.join(d, 'model.safetensors'));
        fs.writeFileSync(path.join(d, 'pytorch_model.bin'), 'PK');
      },
    },
    message:
      /the weights are pickled \(pytorch_model\.bin\); aft reads only model\.safetensors, because loading a pickle runs code/,
    detail: /save_file/,
  },
  {
    name: 'a shard index that names the wrong shard',
    from: 'bert-tiny',
    change: { files: (d) => shard(d, (m) => (m['classifier.bias'] = 'model-00001-of-00002.safetensors')) },
    message:
      /the index lists classifier\.bias in model-00001-of-00002\.safetensors, but it is in model-00002-of-00002\.safetensors/,
  },
];

describe('BERT and DistilBERT folders that are refused', () => {
  for (const r of REFUSED) {
    it(r.name, () => {
      assertRefused(() => readHubFolder(variant(r.from, r.change)), r);
    });
  }

  it('a text student on images, and an image student on text, are refused', () => {
    assert.throws(
      () => studentImagePreprocess({ folder: path.join(fixtures, 'distilbert-tiny') }, '.'),
      /the distilbert student reads text \(token ids\), not images: use a text dataset/,
    );
    assert.throws(
      () => createPretrainedStudent(spec(path.join(fixtures, 'bert-tiny')), [32, 32, 3], 3, 0),
      /reads text \(token ids\); this dataset has images of shape \[32, 32, 3\]: use a text dataset/,
    );
    assert.throws(
      () => createPretrainedStudent(spec(path.join(fixtures, 'vit-tiny')), [T], 3, 0, undefined, VOCAB),
      /the vit_tiny_patch16_224 reads images \[height, width, 3\] .*; this dataset's inputs are texts \(token ids\)/,
    );
    assert.throws(
      () => createPretrainedStudent(spec(path.join(fixtures, 'bert-tiny')), [T], 3, 0, undefined, 60),
      /the tokenizer gives ids up to 59, but the bert's word embeddings have 49 rows/,
    );
  });
});

describe('BERT and DistilBERT folders that are read', () => {
  it('sharded weights (model.safetensors.index.json) load as the single file does', async () => {
    await initBackend('cpu');
    const dir = variant('bert-tiny', { files: (d) => shard(d) });
    const hub = readHubFolder(dir);
    assert.equal(hub.weightFiles.length, 2);
    assert.deepEqual(hub.state, readHubFolder(path.join(fixtures, 'bert-tiny')).state);
  });

  it('fp16 and bf16 weights are converted; pre-training heads and position_ids are left out, as transformers does', () => {
    const logs: string[] = [];
    const dir = variant('bert-tiny', {
      tensors: (t) => {
        t['bert.pooler.dense.weight'] = { ...t['bert.pooler.dense.weight'], dtype: 'F16' };
        t['classifier.weight'] = { ...t['classifier.weight'], dtype: 'BF16' };
        t['bert.embeddings.position_ids'] = {
          shape: [1, 16],
          data: Float32Array.from({ length: 16 }, (_, i) => i),
          dtype: 'I64',
        };
        t['cls.predictions.bias'] = { shape: [VOCAB], data: new Float32Array(VOCAB) };
      },
    });
    const hub = readHubFolder(dir);
    assert.deepEqual(hub.dropped.sort(), ['bert.embeddings.position_ids', 'cls.predictions.bias']);
    assert.deepEqual(
      hub.converted.sort((a, b) => a.dtype.localeCompare(b.dtype)),
      [
        { dtype: 'BF16', count: 1 },
        { dtype: 'F16', count: 1 },
      ],
    );
    const model = createPretrainedStudent(spec(dir, { head: 'keep' }), [T], 3, 0, (m) => logs.push(m), VOCAB);
    model.dispose();
    assert.ok(
      logs.some((m) => /1 F16 tensor converted to float32/.test(m)),
      logs.join('\n'),
    );
    assert.ok(
      logs.some((m) => /left out 2 tensors the library drops too/.test(m)),
      logs.join('\n'),
    );
  });
});

describe("a text dataset with a BERT student: the student's own tokenizer", () => {
  it('tokenises the prompts with the folder’s tokenizer.json, cut to its positions; the teacher keeps its own', async () => {
    const ws = path.join(tmp, 'text-ws');
    fs.mkdirSync(ws);
    fs.cpSync(path.join(fixtures, '..', 'hf'), path.join(ws, 'hf'), { recursive: true });
    const file = path.join(ws, 'exp.aft.yaml');
    fs.writeFileSync(
      file,
      `name: text-student
dataset: { source: text, train: hf/reviews.csv, text: sentence, max_length: 32, test_fraction: 0.25 }
pretrained:
  - { name: teacher, onnx: { folder: hf/tiny-bert, pooling: mean } }
downstream: { model: pretrained, folder: ${JSON.stringify(path.join(fixtures, 'bert-tiny'))} }
methods: [stl]
`,
    );
    const loaded = loadExperiment(file);
    const logs: string[] = [];
    const ds = await loadExperimentDataset(loaded.experiment, loaded.baseDir, (m) => logs.push(m));
    assert.deepEqual(ds.inputShape, [16]);
    assert.equal(ds.vocabSize, VOCAB);
    assert.ok(logs.some((m) => /texts cut to 16 tokens for the student/.test(m)));
    const tok = loadTokenizer(path.join(fixtures, 'bert-tiny', 'tokenizer.json'));
    const want = tok.encode(ds.raw!.train[0], 16).ids;
    const row = Array.from(ds.train.x.subarray(0, 16));
    assert.deepEqual(row, [...want, ...new Array<number>(16 - want.length).fill(-1)]);
    // The teacher's tokenizer is another one (36 ids): its ids would differ.
    assert.notEqual(loadTokenizer(path.join(ws, 'hf', 'tiny-bert', 'tokenizer.json')).vocabSize, VOCAB);
  });
});
