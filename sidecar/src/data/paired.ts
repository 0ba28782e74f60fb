/**
 * Paired image + text datasets (paper §4.3, SNLI-VE): rows of a CSV/JSONL table, each with an
 * image path (relative to the table's folder), a text (a column or a template) and a label. Rows
 * are read and split as text datasets are (text.ts), images decoded as image folders decode them
 * (imageFolder.ts). One example is one flat row [pixels (H×W×C) | token ids (max_length)], so
 * the engine keeps its one input tensor; the two-tower model splits it by `paired.layout`. The
 * image files and the prompts stay with the dataset, each for the pre-trained sources of its
 * modality (`modalityView`).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Modality, PairedDatasetSpec } from '../../../core/node/experiment/schema';
import { badInput } from '../../../core/common/util/errors';
import type { Dataset, PairedLayout, Split } from './dataset';
import { decodeAll, isImageFile, type StudentImages } from './imageFolder';
import { labelsOf, promptsHash, readTableExamples, tokenRows, type Example } from './text';
import { loadTokenizer } from './tokenizer';

/** Each example's image file, absolute; a missing or non-image file is refused at its row. */
function imageFiles(spec: PairedDatasetSpec, list: Example[], file: string): string[] {
  const dir = path.dirname(file);
  return list.map((e) => {
    const where = { file, line: e.line, field: 'dataset.image' };
    const v = e.values[spec.image];
    if (v === undefined)
      throw badInput(`no image column '${spec.image}' (the file has: ${Object.keys(e.values).join(', ')})`, where);
    if (v.trim() === '') throw badInput(`empty image path in column '${spec.image}'`, where);
    const abs = path.resolve(dir, v.trim());
    if (!isImageFile(abs)) throw badInput(`'${v}' is not a PNG, JPEG or WebP file name`, where);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isFile())
      throw badInput(`image file not found: ${abs} (paths are relative to the table's folder)`, where);
    return abs;
  });
}

interface PairedSplit {
  split: Split;
  files: string[];
  prompts: string[];
  imageHash: string;
  textHash: string;
}

export async function loadPairedDataset(
  spec: PairedDatasetSpec,
  baseDir: string,
  tokenizerFile: string,
): Promise<Dataset> {
  const table = readTableExamples(spec, baseDir, (e) => `${e.values[spec.image] ?? ''}\0${e.prompt}`);
  const { classes } = table;
  const tokField = spec.tokenizer !== undefined ? 'dataset.tokenizer' : undefined;
  const tok = loadTokenizer(tokenizerFile, tokField);
  const layout: PairedLayout = { image: [spec.size[0], spec.size[1], spec.grayscale ? 1 : 3], tokens: spec.max_length };
  const images: StudentImages = {
    kind: 'size',
    height: layout.image[0],
    width: layout.image[1],
    channels: layout.image[2],
  };
  const P = layout.image[0] * layout.image[1] * layout.image[2];
  const T = layout.tokens;
  // One tokenizer worker for both splits, as text datasets do.
  const allIds = await tokenRows(
    tok,
    [...table.train, ...table.test].map((e) => e.prompt),
    T,
    tokField,
  );
  const build = async (list: Example[], file: string, first: number): Promise<PairedSplit> => {
    const y = labelsOf(list, classes, file);
    const files = imageFiles(spec, list, file);
    const bad: { file: string; reason: string }[] = [];
    const decoded = await decodeAll({ files, labels: Array.from(y) }, images, path.dirname(file), bad);
    if (bad.length) {
      const lines = bad.map((b) => `line ${list[files.indexOf(b.file)]?.line ?? '?'}: ${b.file}: ${b.reason}`);
      throw badInput(
        `${bad.length} image${bad.length === 1 ? '' : 's'} could not be decoded`,
        { file, field: 'dataset.image', line: list[files.indexOf(bad[0].file)]?.line ?? 1 },
        lines.slice(0, 20).concat(lines.length > 20 ? [`… and ${lines.length - 20} more`] : []),
      );
    }
    const prompts = list.map((e) => e.prompt);
    const ids = allIds.subarray(first * T, (first + list.length) * T);
    const x = new Float32Array(list.length * (P + T));
    for (let r = 0; r < list.length; r++) {
      x.set(decoded.split.x.subarray(r * P, (r + 1) * P), r * (P + T));
      x.set(ids.subarray(r * T, (r + 1) * T), r * (P + T) + P);
    }
    return {
      split: { n: list.length, x, y },
      files,
      prompts,
      imageHash: decoded.hash,
      textHash: promptsHash(list, y),
    };
  };
  const tr = await build(table.train, table.trainFile, 0);
  const te = await build(table.test, table.testFile, table.train.length);
  const both = (s: PairedSplit): string => createHash('sha256').update(`${s.imageHash}\0${s.textHash}`).digest('hex');
  return {
    name: path.basename(table.trainFile).replace(/\.[^.]+$/, ''),
    inputShape: [P + T],
    numClasses: classes.length,
    train: tr.split,
    test: te.split,
    vocabSize: tok.vocabSize,
    paired: {
      layout,
      image: { raw: { train: tr.files, test: te.files }, contentHash: { train: tr.imageHash, test: te.imageHash } },
      text: { raw: { train: tr.prompts, test: te.prompts }, contentHash: { train: tr.textHash, test: te.textHash } },
    },
    contentHash: { train: both(tr), test: both(te) },
  };
}

/**
 * The dataset as a pre-trained source of one modality reads it: an image dataset of the files
 * or a text dataset of the prompts, with that modality's content hash (the feature-cache key).
 * Its `x` stays the paired rows: sources of a view read `raw`, never `x`. Other datasets are
 * returned as they are.
 */
export function modalityView(ds: Dataset, modality: Modality): Dataset {
  const p = ds.paired;
  if (!p) return ds;
  const { paired: _paired, ...rest } = ds;
  const part = p[modality];
  return modality === 'image'
    ? { ...rest, inputShape: [...p.layout.image], raw: { kind: 'images', ...part.raw }, contentHash: part.contentHash }
    : { ...rest, inputShape: [p.layout.tokens], raw: { kind: 'text', ...part.raw }, contentHash: part.contentHash };
}

/**
 * The image half of a paired dataset as arrays: the pixels the image tower reads (H×W×C, 0..1),
 * for a source that reads the dataset's arrays (the built-in teacher). Keyed by the pixels
 * themselves, which depend on `size` and `grayscale` as well as on the files.
 */
export function pixelsView(ds: Dataset): Dataset {
  const p = ds.paired;
  if (!p) return ds;
  const { paired: _paired, contentHash: _hash, ...rest } = ds;
  const P = p.layout.image[0] * p.layout.image[1] * p.layout.image[2];
  const width = P + p.layout.tokens;
  const take = (s: Split): Split => {
    const x = new Float32Array(s.n * P);
    for (let r = 0; r < s.n; r++) x.set(s.x.subarray(r * width, r * width + P), r * P);
    return { n: s.n, x, y: s.y };
  };
  return { ...rest, inputShape: [...p.layout.image], train: take(ds.train), test: take(ds.test) };
}
