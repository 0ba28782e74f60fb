/**
 * `aft predict` on text students (the fixtures' BERT and DistilBERT, test/fixtures/students/
 * make_bert.py): token ids [N, T] int64 with an attention mask give PyTorch's logits and φ; a
 * bare encoder gives φ only; a .csv of texts is tokenised with the folder's own tokenizer.json,
 * as the ids a user would make with it; bad inputs get exit 2 naming the file and what was expected.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeNpy, readNpy } from '../../core/node/io/npy';
import { encodeSafetensors, readSafetensors, type StTensor } from '../../core/node/io/safetensors';
import { loadTokenizer } from '../../sidecar/src/data/tokenizer';
import { relErr } from '../helpers/numeric';
import { runAft } from '../helpers/cli';

const fixtures = path.join(__dirname, '..', 'fixtures', 'students');
const aft = (args: string[], cwd: string) => runAft([...args, '--backend', 'cpu'], cwd);
const int64 = (t: { data: ArrayLike<number> }): BigInt64Array => BigInt64Array.from(Array.from(t.data), BigInt);

describe('aft predict on text students', () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-predict-text-'));

  for (const name of ['bert-tiny', 'distilbert-tiny']) {
    it(`${name}: token ids and attention mask give PyTorch's logits and φ (1e-4)`, () => {
      const ref = readSafetensors(path.join(fixtures, `${name}.reference.safetensors`)).tensors;
      fs.writeFileSync(path.join(ws, `${name}.ids.npy`), encodeNpy(int64(ref.input_ids), ref.input_ids.shape));
      fs.writeFileSync(path.join(ws, `${name}.mask.npy`), encodeNpy(int64(ref.attention_mask), ref.input_ids.shape));
      const r = aft(
        [
          'predict',
          path.join(fixtures, name),
          '--input',
          `${name}.ids.npy`,
          '--attention-mask',
          `${name}.mask.npy`,
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

  it('a bare BertModel: φ without --out; --out is refused (no head)', () => {
    const src = path.join(fixtures, 'bert-tiny');
    const bare = path.join(ws, 'bare-bert');
    fs.mkdirSync(bare);
    const state = readSafetensors(path.join(src, 'model.safetensors')).tensors;
    const encoder: Record<string, StTensor> = {};
    for (const [k, t] of Object.entries(state)) if (k.startsWith('bert.')) encoder[k.slice(5)] = t;
    fs.writeFileSync(path.join(bare, 'model.safetensors'), encodeSafetensors(encoder));
    const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config.id2label;
    delete config.label2id;
    fs.writeFileSync(path.join(bare, 'config.json'), JSON.stringify({ ...config, architectures: ['BertModel'] }));
    fs.copyFileSync(path.join(src, 'tokenizer.json'), path.join(bare, 'tokenizer.json'));
    const ref = readSafetensors(path.join(fixtures, 'bert-tiny.reference.safetensors')).tensors;
    let r = aft(
      [
        'predict',
        bare,
        '--input',
        'bert-tiny.ids.npy',
        '--attention-mask',
        'bert-tiny.mask.npy',
        '--features',
        'bare.npy',
      ],
      ws,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(relErr(readNpy(path.join(ws, 'bare.npy')).data, ref['eval.features'].data) < 1e-4);
    r = aft(['predict', bare, '--input', 'bert-tiny.ids.npy', '--out', 'l.npy'], ws);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bare encoder without a classification head: there are no logits; leave --out out/);
  });

  it("a .csv of texts is tokenised with the folder's own tokenizer.json: the same outputs as its ids", () => {
    const folder = path.join(fixtures, 'distilbert-tiny');
    const texts = ['the movie was very good', 'i hated the acting , it was boring', 'a wonderful story'];
    fs.writeFileSync(path.join(ws, 'texts.csv'), `id,sentence\n${texts.map((t, i) => `${i},"${t}"`).join('\n')}\n`);
    // The ids a user would make with the same tokenizer, padded with [PAD] (0) and masked.
    const tok = loadTokenizer(path.join(folder, 'tokenizer.json'));
    const ids = texts.map((t) => tok.encode(t, 16).ids);
    const T = Math.max(...ids.map((r) => r.length));
    const flat = new BigInt64Array(texts.length * T);
    const mask = new BigInt64Array(texts.length * T);
    ids.forEach((r, i) => r.forEach((id, j) => ((flat[i * T + j] = BigInt(id)), (mask[i * T + j] = 1n))));
    fs.writeFileSync(path.join(ws, 'texts.ids.npy'), encodeNpy(flat, [texts.length, T]));
    fs.writeFileSync(path.join(ws, 'texts.mask.npy'), encodeNpy(mask, [texts.length, T]));
    let r = aft(['predict', folder, '--input', 'texts.csv', '--out', 'csv.npy'], ws);
    assert.equal(r.code, 0, r.stderr);
    r = aft(
      ['predict', folder, '--input', 'texts.ids.npy', '--attention-mask', 'texts.mask.npy', '--out', 'ids.npy'],
      ws,
    );
    assert.equal(r.code, 0, r.stderr);
    const a = readNpy(path.join(ws, 'csv.npy'));
    assert.deepEqual(a.shape, [3, 3]);
    assert.ok(relErr(a.data, readNpy(path.join(ws, 'ids.npy')).data) < 1e-6);
    // Two text columns: which one is asked; --text-column says.
    fs.writeFileSync(path.join(ws, 'two.csv'), `sentence,label\n"${texts[0]}",positive\n`);
    r = aft(['predict', folder, '--input', 'two.csv', '--out', 'x.npy'], ws);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no `text` column and several text columns \(sentence, label\): say --text-column NAME/);
    r = aft(['predict', folder, '--input', 'two.csv', '--text-column', 'sentence', '--out', 'two.npy'], ws);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(relErr(readNpy(path.join(ws, 'two.npy')).data, a.data.slice(0, 3)) < 1e-6);
  });

  const bad: { name: string; write: () => string[]; message: RegExp }[] = [
    {
      name: 'float ids',
      write: () => {
        fs.writeFileSync(path.join(ws, 'f.npy'), encodeNpy(new Float32Array(8), [1, 8]));
        return ['--input', 'f.npy'];
      },
      message: /f\.npy.*expected token ids as int64 \(or int32\) \[N, T\], got float32/,
    },
    {
      name: 'an id outside the vocabulary',
      write: () => {
        fs.writeFileSync(path.join(ws, 'big.npy'), encodeNpy(BigInt64Array.of(2n, 49n, 3n), [1, 3]));
        return ['--input', 'big.npy'];
      },
      message: /token id 49 at row 0, position 1 is outside the bert's vocabulary \(0\.\.48\)/,
    },
    {
      name: 'a mask of another shape',
      write: () => {
        fs.writeFileSync(path.join(ws, 'ok.npy'), encodeNpy(BigInt64Array.of(2n, 5n, 3n), [1, 3]));
        fs.writeFileSync(path.join(ws, 'm2.npy'), encodeNpy(BigInt64Array.of(1n, 1n), [1, 2]));
        return ['--input', 'ok.npy', '--attention-mask', 'm2.npy'];
      },
      message: /m2\.npy.*the attention mask has shape \[1, 2\]; the token ids have \[1, 3\]/,
    },
    {
      name: 'longer than the positions',
      write: () => {
        fs.writeFileSync(path.join(ws, 'long.npy'), encodeNpy(new BigInt64Array(20).fill(5n), [1, 20]));
        return ['--input', 'long.npy'];
      },
      message: /sequences of 20 tokens are longer than the bert's 16 positions/,
    },
    {
      name: 'images',
      write: () => {
        fs.writeFileSync(path.join(ws, 'img.npy'), encodeNpy(new Float32Array(3 * 4 * 4), [1, 3, 4, 4]));
        return ['--input', 'img.npy'];
      },
      message: /expected token ids as int64/,
    },
  ];
  for (const c of bad)
    it(`refuses ${c.name} with exit 2`, () => {
      const r = aft(['predict', path.join(fixtures, 'bert-tiny'), ...c.write(), '--out', 'x.npy'], ws);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.message);
    });
});
