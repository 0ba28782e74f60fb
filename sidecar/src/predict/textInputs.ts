/**
 * What `aft predict` feeds a text student (BERT, DistilBERT), in the engine's encoding (token ids
 * as floats [N, T], -1 where the attention mask is 0): token ids from a .npy ([N, T] int64 or
 * int32, what transformers' tokenizers give) with an optional `--attention-mask` .npy of the same
 * shape (all ones when absent), or the rows of a .csv/.tsv/.jsonl tokenised with the folder's own
 * tokenizer.json (one column: `--text-column`, default `text`, else the file's only non-numeric
 * column), padded to the longest.
 */
import { readNpy, type NpyArray } from '../../../core/node/io/npy';
import { badInput } from '../../../core/common/util/errors';
import { readTable } from '../data/tables';
import { encodeTexts, loadTokenizer } from '../data/tokenizer';

export const TABLE_FILE = /\.(csv|tsv|jsonl|ndjson)$/i;

/** The texts of a table's column: `column`, else `text`, else the only column that is not all numbers. */
export function tableTexts(file: string, column: string | undefined): { texts: string[]; column: string } {
  const field = column !== undefined ? '--text-column' : '--input';
  const rows = readTable(file, field);
  if (!rows.length) throw badInput('the file has no rows', { file });
  const columns = Object.keys(rows[0].values);
  let name = column;
  if (name === undefined) {
    const numeric = (c: string): boolean =>
      rows.every((r) => r.values[c] !== undefined && /^\s*-?[\d.eE+-]+\s*$/.test(r.values[c]));
    const texty = columns.filter((c) => !numeric(c));
    name = columns.includes('text') ? 'text' : texty.length === 1 ? texty[0] : undefined;
    if (name === undefined)
      throw badInput(
        `which column holds the texts? The file has no \`text\` column and ${texty.length ? `several text columns (${texty.join(', ')})` : 'no text column'}: say --text-column NAME`,
        { file, field: '--text-column' },
      );
  }
  const texts = rows.map((r) => {
    const v = r.values[name];
    if (v === undefined)
      throw badInput(`no column '${name}' (the file has: ${Object.keys(r.values).join(', ')})`, {
        file,
        field,
        line: r.line,
      });
    return v;
  });
  return { texts, column: name };
}

/** The texts tokenised with `tokenizer` (each cut to `maxLength`), padded to the longest with -1. */
export async function encodeTable(
  texts: string[],
  tokenizer: string,
  maxLength: number,
): Promise<{ x: Float32Array; length: number }> {
  const tok = loadTokenizer(tokenizer);
  const ids = await encodeTexts(tok, texts, maxLength);
  const length = Math.max(1, ...ids.map((r) => r.length));
  const x = new Float32Array(texts.length * length).fill(-1);
  ids.forEach((r, i) => x.set(r, i * length));
  return { x, length };
}

/** Token ids [N, T] (and the mask, 1 where a token is attended) from .npy files, checked against the model. */
export function npyTokens(
  ids: NpyArray & { file: string },
  maskFile: string | undefined,
  model: { vocab: number; maxLength: number; what: string },
): { x: Float32Array; length: number } {
  if (ids.dtype !== 'int64' && ids.dtype !== 'int32')
    throw badInput(`expected token ids as int64 (or int32) [N, T], got ${ids.dtype}`, {
      file: ids.file,
      field: 'dtype',
    });
  if (ids.shape.length !== 2)
    throw badInput(`expected token ids [N, T] (what the tokenizer gives), got [${ids.shape.join(', ')}]`, {
      file: ids.file,
      field: 'shape',
    });
  const [, T] = ids.shape as [number, number];
  if (T > model.maxLength)
    throw badInput(`sequences of ${T} tokens are longer than the ${model.what}'s ${model.maxLength} positions`, {
      file: ids.file,
      field: 'shape',
    });
  let mask: NpyArray | undefined;
  if (maskFile !== undefined) {
    mask = readNpy(maskFile);
    if (mask.shape.join('x') !== ids.shape.join('x'))
      throw badInput(
        `the attention mask has shape [${mask.shape.join(', ')}]; the token ids have [${ids.shape.join(', ')}]`,
        { file: maskFile, field: 'shape' },
      );
  }
  const x = new Float32Array(ids.data.length);
  for (let i = 0; i < x.length; i++) {
    const id = ids.data[i];
    if (!Number.isInteger(id) || id < 0 || id >= model.vocab)
      throw badInput(
        `token id ${id} at row ${Math.floor(i / T)}, position ${i % T} is outside the ${model.what}'s vocabulary (0..${model.vocab - 1})`,
        { file: ids.file },
      );
    const m = mask ? mask.data[i] : 1;
    if (m !== 0 && m !== 1)
      throw badInput(`expected 0 or 1, got ${m} at row ${Math.floor(i / T)}, position ${i % T}`, { file: maskFile! });
    x[i] = m ? id : -1;
  }
  return { x, length: T };
}
