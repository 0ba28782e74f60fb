/**
 * Checks on the arrays an experiment file references, read from their headers only (never the
 * data): dataset inputs against labels, features against the dataset's row counts, train against
 * test widths. The editor runs them on every change through a cached `FileProbe`; the loaders
 * repeat the checks on the data itself when a run starts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readNpyHeader } from '../io/npy';
import { readOnnxSignature, type OnnxSignature } from '../io/onnxGraph';
import { readSafetensorsHeader } from '../io/safetensors';
import { AftError } from '../../common/util/errors';
import type { Experiment } from './schema';
import type { SemanticProblem } from './problem';

export interface ArrayHeader {
  /** Tensor name in a .safetensors file; '' for the one array of an .npy file. */
  name: string;
  dtype: string;
  shape: number[];
}

export interface ArrayFile {
  format: 'npy' | 'safetensors';
  arrays: ArrayHeader[];
}

/** How the checks see the file system; the language server caches answers by modification time. */
export interface FileProbe {
  /** Whether a file or folder exists. */
  exists(file: string): boolean;
  /** What is at a path: a regular file, a folder, something else (a device, FIFO, socket), or nothing. */
  kind(file: string): PathKind | undefined;
  /** The arrays of an .npy or .safetensors file from its header; throws `AftError` when it cannot. */
  arrays(file: string): ArrayFile;
  /** An ONNX model's input and output names, from its graph (no weights); throws `AftError` when it cannot. */
  onnx(file: string): OnnxSignature;
}

export type PathKind = 'file' | 'folder' | 'other';

export function pathKind(file: string): PathKind | undefined {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  return st === undefined ? undefined : st.isFile() ? 'file' : st.isDirectory() ? 'folder' : 'other';
}

/**
 * The file system as it is, uncached: what `aft validate`, `aft run` and the sidecar check a file
 * with, so that they run the same header checks as the editor (which caches them: fileCache.ts).
 */
export const diskFiles: FileProbe = {
  exists: (file) => pathKind(file) !== undefined,
  kind: pathKind,
  arrays: (file) => readArrayHeaders(file),
  onnx: (file) => readOnnxSignature(file),
};

/** Reads an array file's header by its extension. */
export function readArrayHeaders(file: string): ArrayFile {
  if (file.endsWith('.npy')) {
    const h = readNpyHeader(file);
    return { format: 'npy', arrays: [{ name: '', dtype: h.dtype, shape: h.shape }] };
  }
  if (file.endsWith('.safetensors')) {
    const h = readSafetensorsHeader(file);
    return {
      format: 'safetensors',
      arrays: Object.entries(h.tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    };
  }
  throw new AftError('bad_input', 'expected a .npy or .safetensors file');
}

const shapeText = (s: number[]): string => `[${s.join(', ')}]`;

export interface ArrayCheck {
  problems: SemanticProblem[];
  /** Examples in the training split, where the headers tell (before the β holdout). */
  trainSize?: number;
  /** Width D of each precomputed source's training features, by index in `pretrained`. */
  featureWidths: Map<number, number>;
}

export function arrayProblems(exp: Experiment, baseDir: string, files: FileProbe): ArrayCheck {
  const problems: SemanticProblem[] = [];
  const featureWidths = new Map<number, number>();
  const report = (at: (string | number)[], message: string): void => void problems.push({ path: at, message });

  /** The array a field names, or undefined when it is missing (reported elsewhere) or unusable (reported here). */
  const read = (
    at: (string | number)[],
    file: string,
    only: 'npy' | undefined,
    key?: string,
  ): ArrayHeader | undefined => {
    const abs = path.resolve(baseDir, file);
    // Missing files, folders and devices are reported by `semanticProblems`.
    if (files.kind(abs) !== 'file') return undefined;
    let f: ArrayFile;
    try {
      f = files.arrays(abs);
    } catch (e) {
      report(at, e instanceof Error ? e.message : String(e));
      return undefined;
    }
    if (only && f.format !== only) return void report(at, `expected a .${only} file, found a .${f.format} file`);
    if (f.format === 'npy') return f.arrays[0];
    const names = f.arrays.map((a) => a.name);
    const name = key ?? (names.length === 1 ? names[0] : names.includes('features') ? 'features' : undefined);
    const found = f.arrays.find((a) => a.name === name);
    if (found) return found;
    return void report(
      at,
      key
        ? `no tensor '${key}' in this file (it has: ${names.join(', ')})`
        : `the file has several tensors (${names.join(', ')}); name one with \`key\``,
    );
  };

  let trainSize: number | undefined;
  let testSize: number | undefined;
  const ds = exp.dataset;
  if (ds.source === 'mnist') {
    trainSize = ds.train;
    testSize = ds.test;
  } else if (ds.source === 'npy') {
    const rows: Partial<Record<'train' | 'test', { n: number; example: number[] }>> = {};
    for (const split of ['train', 'test'] as const) {
      const x = read(['dataset', split, 'inputs'], ds[split].inputs, 'npy');
      const y = read(['dataset', split, 'labels'], ds[split].labels, 'npy');
      if (y && y.shape.length !== 1)
        report(['dataset', split, 'labels'], `labels must have shape [N], found ${shapeText(y.shape)}`);
      else if (y?.dtype.startsWith('float'))
        report(['dataset', split, 'labels'], `labels must be integers (uint8, int32 or int64), found ${y.dtype}`);
      if (x && x.shape.length < 2)
        report(
          ['dataset', split, 'inputs'],
          `inputs must have shape [N, ...] with at least 2 dimensions, found ${shapeText(x.shape)}`,
        );
      if (x && y && x.shape[0] !== y.shape[0])
        report(['dataset', split, 'labels'], `has ${y.shape[0]} rows but the inputs have ${x.shape[0]}`);
      const n = y?.shape[0] ?? x?.shape[0];
      if (n === 0) report(['dataset', split, 'labels'], `the ${split} split is empty`);
      if (n !== undefined) rows[split] = { n, example: x?.shape.slice(1) ?? [] };
    }
    const [tr, te] = [rows.train, rows.test];
    if (tr?.example.length && te?.example.length && shapeText(tr.example) !== shapeText(te.example)) {
      report(
        ['dataset', 'test', 'inputs'],
        `test inputs have per-example shape ${shapeText(te.example)} but train inputs have ${shapeText(tr.example)}`,
      );
    }
    trainSize = tr && Math.min(tr.n, ds.train_limit ?? Infinity);
    testSize = te?.n;
  }

  exp.pretrained.forEach((s, i) => {
    if (!('features' in s)) return;
    const at = (split: 'train' | 'test'): (string | number)[] => ['pretrained', i, 'features', split];
    const [tr, te] = (['train', 'test'] as const).map((split) => {
      const a = read(at(split), s.features[split], undefined, s.features.key);
      if (a && a.shape.length !== 2)
        return void report(at(split), `features must have shape [N, D], found ${shapeText(a.shape)}`);
      return a;
    });
    // Train features may have more rows when the dataset uses only its first N examples.
    if (tr && trainSize !== undefined && tr.shape[0] < trainSize)
      report(at('train'), `has ${tr.shape[0]} rows but the training split has ${trainSize} examples`);
    if (te && testSize !== undefined && te.shape[0] !== testSize)
      report(at('test'), `has ${te.shape[0]} rows but the test split has ${testSize} examples`);
    if (tr && te && tr.shape[1] !== te.shape[1])
      report(at('test'), `test features are ${te.shape[1]} wide but train features are ${tr.shape[1]} wide`);
    if (tr) featureWidths.set(i, tr.shape[1]);
  });
  return { problems, featureWidths, ...(trainSize !== undefined ? { trainSize } : {}) };
}
