import { badInput, type SourceLocation } from '../../../core/common/util/errors';

/** One split of a dataset: `n` examples, inputs flattened row-major. */
export interface Split {
  n: number;
  /** n × prod(inputShape) inputs. */
  x: Float32Array;
  /** n class labels in [0, numClasses). */
  y: Int32Array;
}

/**
 * What a pre-trained model reads for each example when it is not the downstream input itself:
 * image files (each model preprocesses them its own way) or prompt texts (each model tokenises
 * them with its own tokenizer). Row-aligned with the splits.
 */
export type RawInputs =
  { kind: 'images'; train: string[]; test: string[] } | { kind: 'text'; train: string[]; test: string[] };

/**
 * How a paired (image + text) example is laid out in its row: the pixels (H×W×C, row-major)
 * first, then `tokens` token ids (-1 for padding). The two-tower model splits rows by it.
 */
export interface PairedLayout {
  image: [number, number, 1 | 3];
  tokens: number;
}

/** One modality of a paired dataset, as its pre-trained sources read it. */
export interface PairedPart {
  raw: { train: string[]; test: string[] };
  /** sha256 of each split's files (or prompts) and labels: the feature-cache key of its sources. */
  contentHash: { train: string; test: string };
}

/** A paired dataset's layout and, per modality, what its pre-trained sources read. */
export interface PairedInputs {
  layout: PairedLayout;
  image: PairedPart;
  text: PairedPart;
}

export interface Dataset {
  name: string;
  /** Shape of one input, e.g. [28, 28, 1]; [max_length] of token ids for text; [H·W·C + max_length] paired. */
  inputShape: number[];
  numClasses: number;
  train: Split;
  test: Split;
  raw?: RawInputs;
  /** Vocabulary size of text datasets (inputs are token ids, -1 for padding). */
  vocabSize?: number;
  /** Paired image + text datasets: the row layout, and each modality's files or prompts (`raw` is unset). */
  paired?: PairedInputs;
  /** sha256 of each split's content (files, texts, labels), for feature-cache keys; else hashed from x. */
  contentHash?: { train: string; test: string };
}

export function inputSize(ds: Pick<Dataset, 'inputShape'>): number {
  return ds.inputShape.reduce((a, b) => a * b, 1);
}

/** Rows `idx` of a row-major matrix with `width` columns. */
export function takeRows(data: Float32Array, width: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * width);
  for (let i = 0; i < idx.length; i++) out.set(data.subarray(idx[i] * width, (idx[i] + 1) * width), i * width);
  return out;
}

export function takeSplit(s: Split, width: number, idx: ArrayLike<number>): Split {
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) y[i] = s.y[idx[i]]!;
  return { n: idx.length, x: takeRows(s.x, width, idx), y };
}

/** The largest float32; float64 values past it would become ±Infinity in the model. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Refuses non-finite values, with the count and the first offending row, and values that float32
 * (what the model computes in) cannot hold, with the first one's row, column and index.
 */
export function checkFinite(
  data: Float32Array | Float64Array,
  width: number,
  what: string,
  where: SourceLocation,
): void {
  let count = 0;
  let first = -1;
  let big = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      if (first < 0) first = Math.floor(i / width);
      count++;
    } else if (big < 0 && (v > FLOAT32_MAX || v < -FLOAT32_MAX)) big = i;
  }
  if (count)
    throw badInput(
      `${what} has ${count} NaN or Inf value${count === 1 ? '' : 's'}; the first is in row ${first}`,
      where,
    );
  if (big >= 0) {
    throw badInput(
      `${what}: value ${data[big]} at row ${Math.floor(big / width)}, column ${big % width} (index ${big}) is beyond float32's range (±3.4e38), which the model computes in`,
      where,
    );
  }
}

export { MAX_CLASSES } from '../../../core/node/experiment/schema';

/** Refuses labels outside [0, numClasses) or non-integers, with the count and first row. */
export function checkLabels(y: ArrayLike<number>, numClasses: number, what: string, where: SourceLocation): void {
  let count = 0;
  let first = -1;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count) {
    throw badInput(
      `${what}: ${count} label${count === 1 ? '' : 's'} outside 0..${numClasses - 1}; the first is row ${first} (value ${y[first]})`,
      where,
    );
  }
}

export function checkNonEmpty(n: number, what: string, where: SourceLocation): void {
  if (n === 0) throw badInput(`${what} is empty`, where);
}

/**
 * A classification task needs two classes (refused otherwise); classes that no training example
 * has cannot be learned, which is said (a warning: a low-data task may mean it).
 */
export function checkClasses(
  ds: Pick<Dataset, 'numClasses' | 'train'>,
  log: (m: string, level?: 'info' | 'warn') => void,
): void {
  const k = ds.numClasses;
  if (k < 2)
    throw badInput(
      `the dataset has ${k} class${k === 1 ? ' (every label is 0)' : 'es'}; a classification task needs at least two classes`,
    );
  const seen = new Uint8Array(k);
  for (let i = 0; i < ds.train.n; i++) seen[ds.train.y[i]] = 1;
  const missing: number[] = [];
  for (let c = 0; c < k; c++) if (!seen[c]) missing.push(c);
  if (missing.length) {
    const few = ds.train.n < k ? `: its ${ds.train.n} examples are fewer than the ${k} classes` : '';
    const list = missing.slice(0, 10).join(', ') + (missing.length > 10 ? `, … (${missing.length - 10} more)` : '');
    log(
      `the training split has no example of ${missing.length} of the ${k} classes (${list})${few}; no method can learn ${missing.length === 1 ? 'it' : 'them'}`,
      'warn',
    );
  }
}
