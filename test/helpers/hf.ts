/**
 * Small stand-ins for Hugging Face ONNX model folders and user data, made with the project's own
 * ONNX graph builder and sharp: a ViT-like image model (patch conv → tokens), a BERT-like text
 * model (embedding × attention mask → tokens) with a WordPiece tokenizer.json, an image folder
 * and a CSV of reviews. `test/fixtures/make-hf.ts` writes the committed copies in
 * test/fixtures/hf; tests write their own variants into temporary folders.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attr, OnnxGraph } from '../../sidecar/src/export/graph';
import { DataType } from '../../sidecar/src/export/proto';
import { encodeImage } from '../../sidecar/src/runtime/images';
import { Rng } from '../../sidecar/src/util/rng';

const normal = (rng: Rng, n: number, std: number): Float32Array =>
  Float32Array.from({ length: n }, () => rng.normal() * std);

/** pixel_values [N, 3, 16, 16] → last_hidden_state [N, 16, D] (4x4 patches), pooler_output [N, D]. */
export function tinyVitOnnx(seed = 1, dim = 8): Uint8Array {
  const rng = new Rng(seed);
  const g = new OnnxGraph('tiny-vit');
  const x = g.input('pixel_values', ['batch', 3, 16, 16]);
  const w = g.initializer('patch.w', normal(rng, dim * 3 * 16, 0.3), [dim, 3, 4, 4]);
  const b = g.initializer('patch.b', normal(rng, dim, 0.1), [dim]);
  const conv = g.node('Conv', [x, w, b], { kernel_shape: attr.ints([4, 4]), strides: attr.ints([4, 4]) });
  const tokens = g.node('Transpose', [g.node('Reshape', [conv, g.int64s('shape', [0, dim, 16])])], {
    perm: attr.ints([0, 2, 1]),
  });
  const hidden = g.node('Tanh', [tokens], {}, 'last_hidden_state');
  g.node('ReduceMean', [hidden], { axes: attr.ints([1]), keepdims: attr.int(0) }, 'pooler_output');
  g.output('last_hidden_state', ['batch', 16, dim]);
  g.output('pooler_output', ['batch', dim]);
  return g.encode({ producer: 'aft-studio-tests', version: '1' });
}

export const VIT_PREPROCESSOR = {
  image_processor_type: 'ViTImageProcessor',
  do_resize: true,
  size: { shortest_edge: 20 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 16, width: 16 },
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.25, 0.25, 0.25],
};

export const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  'review',
  'sentiment',
  ':',
  '"',
  '.',
  ',',
  'the',
  'movie',
  'film',
  'plot',
  'acting',
  'was',
  'is',
  'really',
  'very',
  'great',
  'good',
  'wonderful',
  'loved',
  'excellent',
  'bad',
  'awful',
  'terrible',
  'boring',
  'hated',
  'and',
  'a',
  'it',
  'not',
  '##s',
  '##ly',
  'i',
];

/** A BERT-style WordPiece tokenizer.json over `vocab` (default VOCAB; [CLS] … [SEP], lower-casing). */
export function tinyTokenizerJson(vocab: readonly string[] = VOCAB): Record<string, unknown> {
  const special = (id: number, content: string): Record<string, unknown> => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((t, i) => special(i, t)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

/**
 * input_ids, attention_mask [N, T] int64 → last_hidden_state [N, T, D] = tanh(E[ids]) · mask,
 * with fixed random embeddings E (`vocabSize` × D): it knows which words occur, nothing more.
 */
export function tinyBertOnnx(seed = 2, dim = 8, vocabSize = VOCAB.length): Uint8Array {
  const rng = new Rng(seed);
  const g = new OnnxGraph('tiny-bert');
  const ids = g.input('input_ids', ['batch', 'sequence'], DataType.INT64);
  const mask = g.input('attention_mask', ['batch', 'sequence'], DataType.INT64);
  const table = g.initializer('embeddings', normal(rng, vocabSize * dim, 1), [vocabSize, dim]);
  const emb = g.node('Tanh', [g.node('Gather', [table, ids])]);
  const m = g.node('Unsqueeze', [g.node('Cast', [mask], { to: attr.int(DataType.FLOAT) }), g.int64s('axes', [2])]);
  g.node('Mul', [emb, m], {}, 'last_hidden_state');
  g.output('last_hidden_state', ['batch', 'sequence', dim]);
  return g.encode({ producer: 'aft-studio-tests', version: '1' });
}

export function writeTinyVitFolder(dir: string): void {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ model_type: 'vit', hidden_size: 8, image_size: 16, patch_size: 4 }, null, 2) + '\n',
  );
  fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(VIT_PREPROCESSOR, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), tinyVitOnnx());
}

export function writeTinyBertFolder(dir: string): void {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ model_type: 'bert', hidden_size: 8, vocab_size: VOCAB.length }, null, 2) + '\n',
  );
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()) + '\n');
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), tinyBertOnnx());
}

const COLOURS: [number, number, number][] = [
  [200, 40, 40],
  [40, 180, 60],
  [50, 60, 200],
];

/** `perClass` noisy images of each of three colours, sizes and formats varying, in class folders. */
export async function writeImageFolder(
  dir: string,
  perClass: number,
  seed = 3,
  names = ['red', 'green', 'blue'],
): Promise<void> {
  const rng = new Rng(seed);
  const formats = ['png', 'jpeg', 'webp'] as const;
  for (const [c, name] of names.entries()) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const width = 16 + rng.int(8);
      const height = 16 + rng.int(8);
      const data = new Uint8Array(width * height * 3);
      for (let p = 0; p < width * height; p++)
        for (let k = 0; k < 3; k++) data[p * 3 + k] = Math.max(0, Math.min(255, COLOURS[c][k] + rng.normal() * 40));
      const format = formats[(i + c) % 3];
      fs.writeFileSync(
        path.join(dir, name, `${name}-${i}.${format === 'jpeg' ? 'jpg' : format}`),
        await encodeImage({ data, width, height, channels: 3 }, format),
      );
    }
  }
}

/** Labelled movie reviews ("positive"/"negative"), some needing CSV quotes. */
export function reviewsCsv(n: number, seed = 4): string {
  const rng = new Rng(seed);
  const pick = <T>(a: readonly T[]): T => a[rng.int(a.length)];
  const pos = ['great', 'good', 'wonderful', 'excellent'];
  const neg = ['bad', 'awful', 'terrible', 'boring'];
  const lines = ['sentence,label'];
  for (let i = 0; i < n; i++) {
    const good = i % 2 === 0;
    const s = `the ${pick(['movie', 'film', 'plot', 'acting'])} was ${pick(['', 'really ', 'very '])}${pick(good ? pos : neg)}${rng.next() < 0.3 ? `, i ${good ? 'loved' : 'hated'} it` : ''}`;
    lines.push(`${s.includes(',') ? `"${s}"` : s},${good ? 'positive' : 'negative'}`);
  }
  return lines.join('\n') + '\n';
}

/** Words of the paired captions that VOCAB lacks (the tiny BERT reads them as [UNK]). */
export const CAPTION_WORDS = ['red', 'green', 'blue', 'picture', 'photo', 'of', 'colour'];

/**
 * "Does the caption match the image" rows (SNLI-VE in miniature) over an image folder written
 * by `writeImageFolder`: each image once with a caption naming its colour (`yes`) and once with
 * another colour (`no`), so neither the image nor the caption alone tells the label. Image paths
 * are `imagesRel/<colour>/<file>`, relative to the table's folder.
 */
export function pairedCsv(imagesDir: string, imagesRel: string, seed = 5): string {
  const rng = new Rng(seed);
  const colours = ['red', 'green', 'blue'];
  const templates = ['a {c} picture', 'the picture is {c}', 'a photo of {c}', 'the colour is {c}'];
  const lines = ['image,caption,match'];
  for (const c of colours) {
    for (const f of fs.readdirSync(path.join(imagesDir, c)).sort()) {
      const other = colours.filter((o) => o !== c)[rng.int(2)];
      for (const [named, label] of [
        [c, 'yes'],
        [other, 'no'],
      ] as const) {
        const caption = templates[rng.int(templates.length)].replace('{c}', named);
        lines.push(`${imagesRel}/${c}/${f},${caption},${label}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
