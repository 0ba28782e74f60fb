/**
 * Text classification datasets: rows from CSV/JSONL, a prompt per row from the dataset's
 * template (e.g. the paper's `Review: "{sentence}"\n Sentiment:`), labels as integers or names,
 * and the prompts tokenised for the downstream transformer (ids, -1 for padding). The prompts
 * themselves stay with the dataset: each pre-trained model tokenises them with its own tokenizer.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { TextDatasetSpec } from '../../../core/node/experiment/schema';
import { badInput } from '../../../core/common/util/errors';
import type { Dataset, Split } from './dataset';
import { splitIndices } from './split';
import { readTable, type Row } from './tables';
import { encodeTexts, loadTokenizer, type TextTokenizer } from './tokenizer';

/** The fields of a table dataset (text or paired) that say how rows become examples. */
export type TableSpec = Pick<
  TextDatasetSpec,
  | 'train'
  | 'test'
  | 'text'
  | 'label'
  | 'template'
  | 'classes'
  | 'train_limit'
  | 'split'
  | 'test_fraction'
  | 'split_seed'
>;

export interface Example {
  prompt: string;
  label: string;
  line: number;
  /** The row's cells by column, for datasets that read more columns (paired: the image path). */
  values: Record<string, string>;
}

/** `{column}` placeholders; `{{` and `}}` are literal braces. */
function render(template: string, row: Row, file: string, field: string): string {
  return template.replace(/\{\{|\}\}|\{([^{}]+)\}/g, (m, col: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const v = row.values[col!];
    if (v === undefined)
      throw badInput(
        `the template uses column '${col}', which the file lacks (it has: ${Object.keys(row.values).join(', ')})`,
        { file, field, line: row.line },
      );
    return v;
  });
}

function examples(spec: TableSpec, file: string, field: string): Example[] {
  const rows = readTable(file, field);
  if (rows.length === 0) throw badInput('the file has no rows', { file, field });
  const template = spec.template ?? `{${spec.text}}`;
  return rows.map((r) => {
    const label = r.values[spec.label];
    if (label === undefined)
      throw badInput(`no label column '${spec.label}' (the file has: ${Object.keys(r.values).join(', ')})`, {
        file,
        field: 'dataset.label',
        line: r.line,
      });
    if (label.trim() === '')
      throw badInput(`empty label in column '${spec.label}'`, { file, field: 'dataset.label', line: r.line });
    return { prompt: render(template, r, file, field), label: label.trim(), line: r.line, values: r.values };
  });
}

/** Class names in order: given, integers as they are, else the sorted training labels. */
export function classList(spec: Pick<TableSpec, 'classes'>, train: Example[]): string[] {
  if (spec.classes) return spec.classes;
  const distinct = [...new Set(train.map((e) => e.label))];
  if (distinct.every((l) => /^\d+$/.test(l))) {
    const max = Math.max(...distinct.map(Number));
    return Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  return distinct.sort();
}

export function labelsOf(list: Example[], classes: string[], file: string): Int32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(list, (e) => {
    const i = index.get(e.label);
    if (i === undefined)
      throw badInput(`label '${e.label}' is not one of the classes (${classes.join(', ')})`, {
        file,
        field: 'dataset.label',
        line: e.line,
      });
    return i;
  });
}

export interface TableExamples {
  train: Example[];
  test: Example[];
  trainFile: string;
  testFile: string;
  classes: string[];
}

/**
 * A table dataset's examples: the test file's, or split off the training file (`key`: what the
 * `fixed` split hashes), then `train_limit`; and its classes.
 */
export function readTableExamples(spec: TableSpec, baseDir: string, key: (e: Example) => string): TableExamples {
  const trainFile = path.resolve(baseDir, spec.train);
  let train = examples(spec, trainFile, 'dataset.train');
  let test: Example[];
  let testFile = trainFile;
  if (spec.test !== undefined) {
    testFile = path.resolve(baseDir, spec.test);
    test = examples(spec, testFile, 'dataset.test');
  } else {
    const classes = classList(spec, train);
    const idx = splitIndices(labelsOf(train, classes, trainFile), train.map(key), spec);
    test = idx.test.map((i) => train[i]);
    train = idx.train.map((i) => train[i]);
    if (test.length === 0)
      throw badInput(`test_fraction ${spec.test_fraction} leaves no test examples out of ${train.length}`, {
        file: trainFile,
        field: 'dataset.test_fraction',
      });
  }
  if (spec.train_limit !== undefined) train = train.slice(0, spec.train_limit);
  return { train, test, trainFile, testFile, classes: classList(spec, train) };
}

/** Token ids of each prompt as rows of `maxLength` floats, -1 for padding (tokenised in a worker thread). */
export async function tokenRows(
  tok: TextTokenizer,
  prompts: string[],
  maxLength: number,
  field: string | undefined,
): Promise<Float32Array> {
  const encoded = await encodeTexts(tok, prompts, maxLength, field);
  const x = new Float32Array(prompts.length * maxLength).fill(-1);
  encoded.forEach((ids, r) => {
    for (let j = 0; j < ids.length; j++) x[r * maxLength + j] = ids[j]!;
  });
  return x;
}

/** sha256 of a split's labels and prompts (the feature-cache key of text sources). */
export function promptsHash(list: Example[], y: Int32Array): string {
  const hash = createHash('sha256');
  list.forEach((e, r) => hash.update(`${y[r]}\0${e.prompt}\0`));
  return hash.digest('hex');
}

/** Reads, splits and tokenises a text dataset (tokenised in a worker thread: `encodeTexts`). */
export async function loadTextDataset(spec: TextDatasetSpec, baseDir: string, tokenizerFile: string): Promise<Dataset> {
  const { train, test, trainFile, testFile, classes } = readTableExamples(spec, baseDir, (e) => e.prompt);
  const tokField = spec.tokenizer !== undefined ? 'dataset.tokenizer' : undefined;
  const tok = loadTokenizer(tokenizerFile, tokField);
  const L = spec.max_length;
  const ids = await tokenRows(
    tok,
    [...train, ...test].map((e) => e.prompt),
    L,
    tokField,
  );
  const build = (list: Example[], file: string, first: number): { split: Split; hash: string } => {
    const y = labelsOf(list, classes, file);
    const x = ids.slice(first * L, (first + list.length) * L);
    return { split: { n: list.length, x, y }, hash: promptsHash(list, y) };
  };
  const tr = build(train, trainFile, 0);
  const te = build(test, testFile, train.length);
  return {
    name: path.basename(trainFile).replace(/\.[^.]+$/, ''),
    inputShape: [L],
    numClasses: classes.length,
    train: tr.split,
    test: te.split,
    raw: { kind: 'text', train: train.map((e) => e.prompt), test: test.map((e) => e.prompt) },
    vocabSize: tok.vocabSize,
    contentHash: { train: tr.hash, test: te.hash },
  };
}
