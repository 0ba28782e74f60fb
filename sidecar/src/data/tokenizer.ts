/**
 * Tokenisation with a Hugging Face `tokenizer.json` (and `tokenizer_config.json` when it sits
 * next to it), through `@huggingface/tokenizers`: the pure-JS port of the tokenizers library that
 * transformers.js uses, so ids match the model's own tokenizer. Truncation keeps the special
 * tokens the post-processor adds (e.g. BERT's [CLS] … [SEP]); padding is ours.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { badInput } from '../../../core/common/util/errors';

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

function readJson(file: string, field: string | undefined): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw badInput(`cannot read: ${(e as Error).message}`, { file, ...(field ? { field } : {}) });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badInput(`not valid JSON: ${(e as Error).message}`, { file, ...(field ? { field } : {}) });
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
  const json = readJson(file, field) as { model?: { vocab?: unknown }; padding?: { pad_id?: number } | null };
  if (!json || typeof json !== 'object' || !json.model) throw badInput('not a Hugging Face tokenizer.json (no `model` section)', { file, ...(field ? { field } : {}) });
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? (readJson(configFile, field) as object) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    throw badInput(`cannot build the tokenizer: ${(e as Error).message}`, { file, ...(field ? { field } : {}) });
  }
  const vocab = tok.get_vocab(true);
  const vocabSize = Math.max(...vocab.values()) + 1;
  const padId = json.padding?.pad_id ?? tok.token_to_id('[PAD]') ?? tok.token_to_id('<pad>') ?? 0;
  const hash = createHash('sha256').update(fs.readFileSync(file));
  if (fs.existsSync(configFile)) hash.update(fs.readFileSync(configFile));
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
