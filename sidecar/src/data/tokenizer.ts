/**
 * Tokenisation with a Hugging Face `tokenizer.json` (and `tokenizer_config.json` when it sits
 * next to it), through `@huggingface/tokenizers`: the pure-JS port of the tokenizers library that
 * transformers.js uses, so ids match the model's own tokenizer. Truncation keeps the special
 * tokens the post-processor adds (e.g. BERT's [CLS] … [SEP]); padding is ours.
 *
 * A tokenizer.json carries regular expressions (its normalizer's and pre-tokenizer's `Split` and
 * `Replace` patterns) that run on every text, and one such as `(a|a)+$` backtracks for ever on
 * the wrong text. So datasets are tokenised in a worker thread (`encodeTexts`,
 * tokenizerWorker.ts) that must keep making progress: the sidecar stays free to answer, and a
 * text that takes too long stops the work with an error naming the file and the text.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { badInput } from '../../../core/common/util/errors';
import { decodeUtf8, MAX_JSON_BYTES, readUserFile } from '../../../core/node/io/userFile';
import { AftError, type ErrorCode, type SourceLocation } from '../../../core/common/util/errors';
import { startWorker } from '../util/worker';

export interface Encoded {
  /** Token ids, at most maxLength, without padding. */
  ids: number[];
}

export interface TextTokenizer {
  file: string;
  /** sha256 of tokenizer.json (and tokenizer_config.json), for cache keys. */
  hash: string;
  vocabSize: number;
  /** Id used to pad model inputs (the tokenizer's pad token, else 0). */
  padId: number;
  encode(text: string, maxLength: number): Encoded;
}

/** A JSON file's bytes (for the hash) and value. */
function readJson(file: string, field: string | undefined): { bytes: Buffer; json: unknown } {
  const opts = { what: path.basename(file), maxBytes: MAX_JSON_BYTES, ...(field ? { field } : {}) };
  const bytes = readUserFile(file, opts);
  const text = decodeUtf8(bytes, { file, ...(field ? { field } : {}) });
  try {
    return { bytes, json: JSON.parse(text) as unknown };
  } catch (e) {
    throw badInput(`${opts.what} is not valid JSON: ${(e as Error).message}`, { file, ...(field ? { field } : {}) });
  }
}

/** Index of `inner` inside `outer` (the plain ids inside the ids with special tokens). */
function findRun(outer: number[], inner: number[]): number {
  if (inner.length === 0) return outer.length;
  for (let k = 0; k + inner.length <= outer.length; k++) {
    let ok = true;
    for (let j = 0; j < inner.length && ok; j++) ok = outer[k + j] === inner[j];
    if (ok) return k;
  }
  return -1;
}

const cache = new Map<string, TextTokenizer>();

export function loadTokenizer(file: string, field?: string): TextTokenizer {
  const hit = cache.get(file);
  if (hit) return hit;
  const where = { file, ...(field ? { field } : {}) };
  const main = readJson(file, field);
  const json = main.json as { model?: { vocab?: unknown }; padding?: { pad_id?: unknown } | null };
  if (!json || typeof json !== 'object' || Array.isArray(json) || !json.model || typeof json.model !== 'object')
    throw badInput('not a Hugging Face tokenizer.json (no `model` section)', where);
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const side = fs.existsSync(configFile) ? readJson(configFile, field) : undefined;
  const config = side?.json ?? {};
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw badInput('tokenizer_config.json must be a JSON object', { file: configFile, ...(field ? { field } : {}) });
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    throw badInput(`cannot build the tokenizer: ${(e as Error).message}`, { file, ...(field ? { field } : {}) });
  }
  let vocabSize = 0;
  try {
    for (const id of tok.get_vocab(true).values()) if (Number.isSafeInteger(id) && id >= vocabSize) vocabSize = id + 1;
  } catch (e) {
    throw badInput(`cannot read the tokenizer's vocabulary: ${(e as Error).message}`, where);
  }
  if (vocabSize === 0) throw badInput('the tokenizer has an empty vocabulary', where);
  const pad = json.padding?.pad_id;
  const padId =
    (typeof pad === 'number' && Number.isSafeInteger(pad) && pad >= 0 ? pad : undefined) ??
    tok.token_to_id('[PAD]') ??
    tok.token_to_id('<pad>') ??
    0;
  const hash = createHash('sha256').update(main.bytes);
  if (side) hash.update(side.bytes);
  const t: TextTokenizer = {
    file,
    hash: hash.digest('hex'),
    vocabSize,
    padId,
    encode(text: string, maxLength: number): Encoded {
      const full = tok.encode(text).ids;
      if (full.length <= maxLength) return { ids: full };
      const plain = tok.encode(text, { add_special_tokens: false }).ids;
      const k = findRun(full, plain);
      if (k < 0) return { ids: full.slice(0, maxLength) };
      const prefix = full.slice(0, k);
      const suffix = full.slice(k + plain.length);
      const room = Math.max(0, maxLength - prefix.length - suffix.length);
      return { ids: [...prefix, ...plain.slice(0, room), ...suffix].slice(0, maxLength) };
    },
  };
  cache.set(file, t);
  return t;
}

/** Messages from the tokenising worker (tokenizerWorker.ts). */
export type TokenizerWorkerReply =
  | { type: 'ready' }
  | { type: 'progress'; done: number }
  | { type: 'done'; ids: Int32Array; offsets: Int32Array }
  | { type: 'error'; error: { message: string; code?: ErrorCode; location?: SourceLocation } };

export interface TokenizerWorkerData {
  file: string;
  field?: string;
  texts: string[];
  maxLength: number;
}

/** How long one text may take before tokenising is stopped (AFT_TOKENIZE_STALL_MS overrides, for tests). */
export function tokenizeStallMs(): number {
  const v = Number(process.env.AFT_TOKENIZE_STALL_MS);
  return Number.isFinite(v) && v > 0 ? v : 10_000;
}

/** Loading the tokenizer in the worker (a big tokenizer.json, tsx in tests) may take this long. */
const STARTUP_MS = 120_000;

/**
 * Token ids of `texts` (each at most `maxLength`, as `encode` gives them), computed in a worker
 * thread that must report progress at least every `tokenizeStallMs()`: a text it is stuck on
 * (a pattern that backtracks catastrophically) stops the work with a bad-input error naming the
 * tokenizer and the text, and the thread is ended.
 */
export function encodeTexts(
  tok: Pick<TextTokenizer, 'file'>,
  texts: string[],
  maxLength: number,
  field?: string,
): Promise<number[][]> {
  if (texts.length === 0) return Promise.resolve([]);
  const where = { file: tok.file, ...(field ? { field } : {}) };
  const stallMs = tokenizeStallMs();
  const data: TokenizerWorkerData = { file: tok.file, ...(field ? { field } : {}), texts, maxLength };
  const worker = startWorker(__dirname, 'tokenizer-worker.js', 'tokenizerWorker.ts', data);
  return new Promise<number[][]>((resolve, reject) => {
    let done = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
      void worker.terminate();
    };
    const stalled = (): void =>
      finish(() => {
        const text = texts[Math.min(done, texts.length - 1)] ?? '';
        const preview = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
        reject(
          new AftError(
            'bad_input',
            `tokenising stopped: text ${done + 1} of ${texts.length} (${preview}, ${text.length} characters) took over ${(stallMs / 1000).toFixed(0)} s; a regular expression of this tokenizer (a normalizer or pre_tokenizer \`Split\`/\`Replace\` pattern) backtracks catastrophically on it. Fix or remove that pattern`,
            where,
          ),
        );
      });
    const arm = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(stalled, ms);
    };
    worker.on('message', (m: TokenizerWorkerReply) => {
      if (m.type === 'ready') arm(stallMs);
      else if (m.type === 'progress') {
        done = m.done;
        arm(stallMs);
      } else if (m.type === 'error') {
        finish(() =>
          reject(
            m.error.code
              ? new AftError(m.error.code, m.error.message, m.error.location ?? where)
              : new Error(`tokenizer worker: ${m.error.message}`),
          ),
        );
      } else {
        finish(() =>
          resolve(
            Array.from({ length: texts.length }, (_, i) => Array.from(m.ids.subarray(m.offsets[i], m.offsets[i + 1]))),
          ),
        );
      }
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) =>
      finish(() => reject(new Error(`the tokenizer worker thread exited (code ${code}) before it finished`))),
    );
    arm(STARTUP_MS);
  });
}
