/**
 * Text datasets: CSV (quotes, doubled quotes, newlines in quotes, CRLF), TSV and JSONL rows,
 * prompt templates, integer or named labels, tokenisation with a tokenizer.json (truncation keeps
 * [CLS]/[SEP], padding is -1), and clear refusals (non-UTF-8, unknown columns, unknown labels).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readTable } from '../../sidecar/src/data/tables';
import { loadTextDataset } from '../../sidecar/src/data/text';
import { loadTokenizer } from '../../sidecar/src/data/tokenizer';
import { AftError } from '../../core/common/util/errors';
import { reviewsCsv, tinyTokenizerJson, VOCAB } from '../helpers/hf';
import { textDatasetSchemaForTests } from '../helpers/specs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-text-'));
const tokFile = path.join(dir, 'tokenizer.json');
fs.writeFileSync(tokFile, JSON.stringify(tinyTokenizerJson()));
const write = (name: string, content: string | Buffer): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
};
const id = (t: string): number => VOCAB.indexOf(t);

describe('tables', () => {
  const cases: [string, string, Record<string, string>[]][] = [
    [
      'plain.csv',
      'a,b\n1,x\n2,y\n',
      [
        { a: '1', b: 'x' },
        { a: '2', b: 'y' },
      ],
    ],
    [
      'quoted.csv',
      'a,b\r\n"1, one","say ""hi"""\r\n"multi\nline",z\r\n',
      [
        { a: '1, one', b: 'say "hi"' },
        { a: 'multi\nline', b: 'z' },
      ],
    ],
    ['bom.csv', '\uFEFFa,b\n1,2', [{ a: '1', b: '2' }]],
    ['tabs.tsv', 'a\tb\n1,5\tx\n', [{ a: '1,5', b: 'x' }]],
    [
      'rows.jsonl',
      '{"a": "1", "b": 2}\n\n{"a": "x", "b": true}\n',
      [
        { a: '1', b: '2' },
        { a: 'x', b: 'true' },
      ],
    ],
  ];
  for (const [name, text, rows] of cases) {
    it(`reads ${name}`, () =>
      assert.deepEqual(
        readTable(write(name, text), 'dataset.train').map((r) => r.values),
        rows,
      ));
  }

  const bad: [string, string | Buffer, RegExp, number?][] = [
    [
      'latin1.csv',
      Buffer.concat([Buffer.from('a,b\nok,1\ncaf'), Buffer.from([0xe9]), Buffer.from(',2\n')]),
      /not valid UTF-8: byte 0xe9 at offset 12 \(line 3\)/,
      3,
    ],
    ['ragged.csv', 'a,b\n1,2\n3\n', /row has 1 field but the header has 2/, 3],
    ['open.csv', 'a,b\n"never closed,1\n', /quoted field starting on line 2 is never closed/, 2],
    ['bad.jsonl', '{"a": 1}\n{nope}\n', /not valid JSON/, 2],
    ['data.txt', 'a\n', /expected a \.csv, \.tsv or \.jsonl file/],
  ];
  for (const [name, content, pattern, line] of bad) {
    it(`refuses ${name} with the line`, () => {
      const f = write(name, content);
      assert.throws(
        () => readTable(f, 'dataset.train'),
        (e: unknown) =>
          e instanceof AftError && pattern.test(e.message) && e.location?.file === f && e.location.line === line,
      );
    });
  }
});

describe('tokenizer.json', () => {
  it('encodes with the post-processor and truncates keeping [CLS] and [SEP]', () => {
    const tok = loadTokenizer(tokFile);
    assert.equal(tok.vocabSize, VOCAB.length);
    assert.equal(tok.padId, 0);
    assert.deepEqual(tok.encode('The movie was GREAT', 16).ids, [
      id('[CLS]'),
      id('the'),
      id('movie'),
      id('was'),
      id('great'),
      id('[SEP]'),
    ]);
    assert.deepEqual(tok.encode('the movie was great', 4).ids, [id('[CLS]'), id('the'), id('movie'), id('[SEP]')]);
    assert.deepEqual(tok.encode('zebra', 8).ids, [id('[CLS]'), id('[UNK]'), id('[SEP]')]);
  });

  it('refuses a file that is not a tokenizer', () => {
    const f = write('not-tok.json', '{"vocab": {}}');
    assert.throws(() => loadTokenizer(f, 'dataset.tokenizer'), /not a Hugging Face tokenizer\.json/);
  });
});

describe('text datasets', () => {
  const csv = write('reviews.csv', reviewsCsv(40));

  it('builds prompts from the template, names classes, tokenises with -1 padding', async () => {
    const spec = textDatasetSchemaForTests({
      source: 'text',
      train: csv,
      text: 'sentence',
      template: 'Review: "{sentence}"\n Sentiment:',
      max_length: 16,
      test_fraction: 0.25,
    });
    const ds = await loadTextDataset(spec, '/', tokFile);
    assert.deepEqual([ds.train.n, ds.test.n, ds.numClasses, ds.vocabSize], [30, 10, 2, VOCAB.length]);
    assert.deepEqual(ds.inputShape, [16]);
    assert.ok(ds.raw?.kind === 'text');
    assert.match(ds.raw.train[0], /^Review: "the .*"\n Sentiment:$/);
    const row = Array.from(ds.train.x.subarray(0, 16));
    assert.equal(row[0], id('[CLS]'));
    assert.deepEqual(row.slice(1, 4), [id('review'), id(':'), id('"')]);
    assert.equal(row.at(-1), -1, 'padded with -1');
    // Labels named negative/positive → 0/1 (sorted), matching the words of each review.
    ds.raw.train.forEach((p, i) => assert.equal(ds.train.y[i], /great|good|wonderful|excellent/.test(p) ? 1 : 0, p));
  });

  it('keeps integer labels as they are and honours `classes`', async () => {
    const f = write(
      'ints.jsonl',
      '{"text": "good", "label": 1}\n{"text": "bad", "label": 0}\n{"text": "great", "label": 1}\n{"text": "awful", "label": 0}\n',
    );
    const ds = await loadTextDataset(textDatasetSchemaForTests({ source: 'text', train: f, test: f }), '/', tokFile);
    assert.deepEqual(Array.from(ds.train.y), [1, 0, 1, 0]);
    const named = await loadTextDataset(
      textDatasetSchemaForTests({
        source: 'text',
        train: csv,
        test: csv,
        text: 'sentence',
        classes: ['positive', 'negative'],
      }),
      '/',
      tokFile,
    );
    assert.equal(named.train.y[0], /great|good|wonderful|excellent/.test(named.raw!.train[0]) ? 0 : 1);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    [
      'a template column the file lacks',
      { template: '{review}' },
      /the template uses column 'review', which the file lacks \(it has: sentence, label\)/,
    ],
    ['a missing label column', { text: 'sentence', label: 'stars' }, /no label column 'stars'/],
    [
      'a label outside `classes`',
      { text: 'sentence', classes: ['positive', 'neutral'] },
      /label 'negative' is not one of the classes \(positive, neutral\)/,
    ],
  ];
  for (const [name, extra, pattern] of bad) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(
        loadTextDataset(textDatasetSchemaForTests({ source: 'text', train: csv, ...extra }), '/', tokFile),
        (e: unknown) => e instanceof AftError && pattern.test(e.message) && e.location?.line !== undefined,
      );
    });
  }
});
