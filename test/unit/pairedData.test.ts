/**
 * Paired image + text datasets: rows [pixels | token ids] from CSV or JSONL with image paths
 * relative to the table, each modality's view for the pre-trained sources (files or prompts, own
 * cache key), and refusals that name the table's line (missing or undecodable image, columns).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadPairedDataset, modalityView, pixelsView } from '../../sidecar/src/data/paired';
import { AftError } from '../../core/common/util/errors';
import { CAPTION_WORDS, VOCAB } from '../helpers/hf';
import { pairedDatasetSchemaForTests } from '../helpers/specs';

const fixtures = path.join(__dirname, '..', 'fixtures');
const tokFile = path.join(fixtures, 'paired', 'tokenizer.json');
const vocab = [...VOCAB, ...CAPTION_WORDS];
const spec = (v: Record<string, unknown>) =>
  pairedDatasetSchemaForTests({
    source: 'paired',
    image: 'image',
    text: 'caption',
    label: 'match',
    size: [8, 8],
    max_length: 8,
    ...v,
  });

describe('paired datasets', () => {
  it('reads the fixture: one row [pixels (8×8×3) | 8 token ids] per example, labels from names', async () => {
    const ds = await loadPairedDataset(spec({ train: 'paired/pairs.csv', test_fraction: 0.25 }), fixtures, tokFile);
    const P = 8 * 8 * 3;
    assert.deepEqual(ds.inputShape, [P + 8]);
    assert.deepEqual(ds.paired!.layout, { image: [8, 8, 3], tokens: 8 });
    assert.deepEqual([ds.train.n + ds.test.n, ds.numClasses], [48, 2]);
    assert.equal(ds.train.x.length, ds.train.n * (P + 8));
    const pixels = ds.train.x.subarray(0, P);
    assert.ok(pixels.every((v) => v >= 0 && v <= 1));
    // The first row's tokens: [CLS] caption words [SEP], then -1 padding.
    const row = 0;
    const ids = Array.from(ds.train.x.subarray(row * (P + 8) + P, (row + 1) * (P + 8)));
    const prompt = ds.paired!.text.raw.train[row];
    const words = prompt.split(' ');
    assert.deepEqual(ids.slice(0, words.length + 2), [
      vocab.indexOf('[CLS]'),
      ...words.map((w) => vocab.indexOf(w)),
      vocab.indexOf('[SEP]'),
    ]);
    assert.ok(ids.slice(words.length + 2).every((v) => v === -1));
    // The label says whether the caption names the image's colour folder.
    const file = ds.paired!.image.raw.train[row];
    const colour = path.basename(path.dirname(file));
    assert.equal(ds.train.y[row], words.includes(colour) ? 1 : 0, `${file}: ${prompt}`);
    assert.ok(fs.existsSync(file) && path.isAbsolute(file));
  });

  it('gives each modality its own view: image files or prompts, shape and cache key; pixels as arrays', async () => {
    const ds = await loadPairedDataset(spec({ train: 'paired/pairs.csv' }), fixtures, tokFile);
    const img = modalityView(ds, 'image');
    const txt = modalityView(ds, 'text');
    assert.deepEqual([img.inputShape, img.raw?.kind], [[8, 8, 3], 'images']);
    assert.deepEqual([txt.inputShape, txt.raw?.kind], [[8], 'text']);
    assert.equal(img.paired, undefined);
    assert.deepEqual(img.raw?.train, ds.paired!.image.raw.train);
    assert.deepEqual(txt.raw?.test, ds.paired!.text.raw.test);
    const keys = new Set([ds.contentHash!.train, img.contentHash!.train, txt.contentHash!.train]);
    assert.equal(keys.size, 3, 'the whole rows, the images and the texts each have their own hash');
    assert.equal(img.train.n, ds.train.n);
    // Arrays of the image half (the built-in teacher's input): the image tower's own pixels,
    // keyed by those pixels (no content hash), since they depend on `size` and `grayscale`.
    const pixels = pixelsView(ds);
    const P = 8 * 8 * 3;
    assert.deepEqual(pixels.inputShape, [8, 8, 3]);
    assert.equal(pixels.contentHash, undefined);
    assert.equal(pixels.test.x.length, ds.test.n * P);
    const r = ds.test.n - 1;
    assert.deepEqual(pixels.test.x.subarray(r * P, (r + 1) * P), ds.test.x.subarray(r * (P + 8), r * (P + 8) + P));
  });

  it('reads JSONL with a separate test file, paths relative to each table', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-paired-'));
    const images = path.join(fixtures, 'hf', 'images');
    const rows = (colours: string[]): string =>
      colours
        .map((c, i) =>
          JSON.stringify({
            image: path.relative(dir, path.join(images, c, fs.readdirSync(path.join(images, c)).sort()[i])),
            caption: `a ${c} picture`,
            match: i % 2,
          }),
        )
        .join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'train.jsonl'), rows(['red', 'green', 'blue', 'red']));
    fs.writeFileSync(path.join(dir, 'test.jsonl'), rows(['blue', 'green']));
    const ds = await loadPairedDataset(spec({ train: 'train.jsonl', test: 'test.jsonl' }), dir, tokFile);
    assert.deepEqual([ds.train.n, ds.test.n, Array.from(ds.train.y)], [4, 2, [0, 1, 0, 1]]);
    assert.match(ds.paired!.image.raw.test[0], /blue-0\.webp$/);
  });

  // [what, the table's one row (line 2), spec fields, message]
  const bad: [string, string, Record<string, unknown>, RegExp][] = [
    ['missing image', 'missing.png,a red picture,yes', {}, /image file not found: .*missing\.png/],
    ['not an image name', 'pairs.txt,a red picture,yes', {}, /not a PNG, JPEG or WebP/],
    ['undecodable image', 'broken.png,a red picture,yes', {}, /could not be decoded/],
    ['no image column', 'broken.png,a red picture,yes', { image: 'picture' }, /no image column 'picture'/],
  ];
  for (const [name, row, extra, message] of bad) {
    it(`refuses a ${name}, naming the table's line`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-paired-bad-'));
      fs.writeFileSync(path.join(dir, 'broken.png'), 'not a png');
      fs.writeFileSync(path.join(dir, 'pairs.csv'), `image,caption,match\n${row}\n`);
      await assert.rejects(
        loadPairedDataset(spec({ train: 'pairs.csv', test: 'pairs.csv', ...extra }), dir, tokFile),
        (e: unknown) =>
          e instanceof AftError &&
          message.test(e.message) &&
          e.location?.line === 2 &&
          e.location.file === path.join(dir, 'pairs.csv') &&
          e.location.field === 'dataset.image',
      );
    });
  }
});
