/**
 * What a pre-trained ONNX model is fed, batch by batch: preprocessed image files, tokenised
 * prompts (ids, attention mask, token types, positions, by the input names transformers exports
 * use), or the dataset's own arrays. Each mode checks the model's declared inputs first, so a
 * mismatch is reported before anything runs, with expected and actual shapes.
 */
import type { Dataset } from '../data/dataset';
import { encodeTexts, type TextTokenizer } from '../data/tokenizer';
import type { OnnxRunner, OnnxTensor, OnnxValueInfo } from '../runtime/onnx';
import { badInput } from '../../../core/common/util/errors';
import { preprocessImageInto, type ImagePreprocess } from './imagePreprocess';

export interface Batch {
  feeds: Record<string, OnnxTensor>;
  /** [rows, T] attention mask for token outputs (text), for `mean` and `last` pooling. */
  mask?: Uint8Array;
}

/** Rows are indexed over train then test. */
export interface BatchSource {
  prepare(start: number, end: number): Promise<Batch>;
  /**
   * Feeds the caller is done with, for the next batches to fill again: new memory costs page
   * faults on first touch, for every batch (bench:extract). Optional for the caller.
   */
  recycle?(feeds: Record<string, OnnxTensor>): void;
}

const fmt = (s: readonly (number | string)[]): string => `[${s.join(', ')}]`;

function rowOf(ds: Dataset, i: number): { split: 'train' | 'test'; row: number } {
  return i < ds.train.n ? { split: 'train', row: i } : { split: 'test', row: i - ds.train.n };
}

function onlyInput(session: OnnxRunner, input: OnnxValueInfo, what: string): void {
  const others = session.inputs.filter((i) => i.name !== input.name).map((i) => i.name);
  if (others.length)
    throw badInput(
      `the model has other inputs (${others.join(', ')}) that ${what} cannot fill; name the one to feed with \`input\``,
      { file: session.file },
    );
}

export function imageBatches(
  session: OnnxRunner,
  input: OnnxValueInfo,
  ds: Dataset,
  pre: ImagePreprocess,
): BatchSource {
  if (ds.raw?.kind !== 'images') throw new Error('internal error: image batches need an image dataset');
  onlyInput(session, input, 'image extraction');
  if (input.type !== 'float32')
    throw badInput(`image input '${input.name}' is ${input.type}; only float32 image inputs are supported`, {
      file: session.file,
    });
  const raw = ds.raw;
  const size = pre.channels * pre.height * pre.width;
  const dims = (n: number): number[] =>
    pre.layout === 'nchw' ? [n, pre.channels, pre.height, pre.width] : [n, pre.height, pre.width, pre.channels];
  // Whole buffers of recycled batches; a batch takes the front of one that is large enough.
  const free: ArrayBuffer[] = [];
  const take = (n: number): Float32Array => {
    const i = free.findIndex((b) => b.byteLength >= n * size * 4);
    return i >= 0 ? new Float32Array(free.splice(i, 1)[0], 0, n * size) : new Float32Array(n * size);
  };
  return {
    recycle(feeds) {
      const t = feeds[input.name];
      // Kept whole and at most three (the batch being filled, the one the model runs, one spare).
      if (
        t?.data instanceof Float32Array &&
        t.data.byteOffset === 0 &&
        t.data.buffer instanceof ArrayBuffer &&
        free.length < 3
      )
        free.push(t.data.buffer);
    },
    async prepare(start, end) {
      const data = take(end - start);
      // Every image of the batch is queued at once: libvips reads and decodes them on the thread
      // pool, and this thread normalises them, while onnxruntime runs the previous batch in its worker.
      await Promise.all(
        Array.from({ length: end - start }, async (_, k) => {
          const { split, row } = rowOf(ds, start + k);
          const file = raw[split][row];
          try {
            await preprocessImageInto(file, pre, data, k * size);
          } catch (e) {
            throw badInput(`cannot decode image: ${(e as Error).message.split('\n')[0]}`, { file });
          }
        }),
      );
      return { feeds: { [input.name]: { type: 'float32', data, dims: dims(end - start) } } };
    },
  };
}

/** Names transformers' ONNX exports give the inputs besides the token ids. */
const MASK = 'attention_mask';
const TYPES = 'token_type_ids';
const POSITIONS = 'position_ids';

export function textBatches(
  session: OnnxRunner,
  input: OnnxValueInfo,
  ds: Dataset,
  tok: TextTokenizer,
  maxLength: number,
  field?: string,
): BatchSource {
  if (ds.raw?.kind !== 'text') throw new Error('internal error: text batches need a text dataset');
  const raw = ds.raw;
  const unknown = session.inputs.filter((i) => ![input.name, MASK, TYPES, POSITIONS].includes(i.name));
  if (unknown.length) {
    throw badInput(
      `the model needs input${unknown.length > 1 ? 's' : ''} ${unknown.map((i) => i.name).join(', ')}, which text extraction cannot fill (it fills ${input.name}, ${MASK}, ${TYPES}, ${POSITIONS}); export the model for feature extraction, without past key/values`,
      { file: session.file },
    );
  }
  for (const i of session.inputs) {
    if (i.type !== 'int64' && i.type !== 'int32')
      throw badInput(`text input '${i.name}' is ${i.type}; expected int64 or int32 token ids`, { file: session.file });
    if (i.shape.length !== 2)
      throw badInput(`text input '${i.name}' must have shape [N, T], but the model declares ${fmt(i.shape)}`, {
        file: session.file,
      });
  }
  const fixedT = typeof input.shape[1] === 'number' && input.shape[1] > 0 ? input.shape[1] : undefined;
  const make = (type: string, values: number[], dims: number[]): OnnxTensor =>
    type === 'int64'
      ? { type: 'int64', data: BigInt64Array.from(values, (v) => BigInt(v)), dims }
      : { type: 'int32', data: Int32Array.from(values), dims };
  // Every text is tokenised once, in a worker thread that must keep making progress (a
  // tokenizer pattern that backtracks catastrophically stops it with an error, data/tokenizer.ts).
  let all: Promise<number[][]> | undefined;
  return {
    async prepare(start, end) {
      const texts = await (all ??= encodeTexts(tok, [...raw.train, ...raw.test], fixedT ?? maxLength, field));
      const encoded = Array.from({ length: end - start }, (_, k) => {
        const { split, row } = rowOf(ds, start + k);
        return texts[split === 'train' ? row : raw.train.length + row];
      });
      const T = fixedT ?? Math.max(1, ...encoded.map((e) => e.length));
      const n = end - start;
      const ids = new Array<number>(n * T).fill(tok.padId);
      const mask = new Uint8Array(n * T);
      encoded.forEach((e, r) => {
        e.forEach((id, p) => {
          ids[r * T + p] = id;
          mask[r * T + p] = 1;
        });
      });
      const feeds: Record<string, OnnxTensor> = {};
      for (const i of session.inputs) {
        const values =
          i.name === input.name
            ? ids
            : i.name === MASK
              ? Array.from(mask)
              : i.name === TYPES
                ? new Array<number>(n * T).fill(0)
                : Array.from({ length: n * T }, (_, k) => k % T);
        feeds[i.name] = make(i.type, values, [n, T]);
      }
      return { feeds, mask };
    },
  };
}

/** The dataset's arrays as they are (the built-in teacher on MNIST, or an .npy dataset). */
export function tensorBatches(session: OnnxRunner, input: OnnxValueInfo, ds: Dataset): BatchSource {
  onlyInput(session, input, 'array extraction');
  if (input.type !== 'float32')
    throw badInput(`input '${input.name}' is ${input.type}; array datasets feed float32`, { file: session.file });
  const width = ds.inputShape.reduce((a, b) => a * b, 1);
  const declared = input.shape.slice(1);
  let example: number[];
  if (declared.length === ds.inputShape.length) example = ds.inputShape;
  else if (declared.length === 1) example = [width];
  else example = declared.map((d) => (typeof d === 'number' ? d : -1));
  const fits =
    example.length === declared.length &&
    example.every((d, k) => typeof declared[k] !== 'number' || declared[k] < 0 || declared[k] === d) &&
    example.reduce((a, b) => a * b, 1) === width;
  if (!fits)
    throw badInput(
      `input '${input.name}' expects ${fmt(['N', ...declared])} but the dataset's examples have shape ${fmt(ds.inputShape)}`,
      { file: session.file },
    );
  return {
    prepare(start, end) {
      const data = new Float32Array((end - start) * width);
      for (let i = start; i < end; i++) {
        const { split, row } = rowOf(ds, i);
        data.set(ds[split].x.subarray(row * width, (row + 1) * width), (i - start) * width);
      }
      return Promise.resolve({ feeds: { [input.name]: { type: 'float32', data, dims: [end - start, ...example] } } });
    },
  };
}
