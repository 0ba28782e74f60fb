import * as path from 'node:path';
import { readNpy } from '../../../core/node/io/npy';
import { badInput } from '../../../core/common/util/errors';
import type { Dataset, Split } from './dataset';
import { checkFinite, checkLabels, checkNonEmpty, MAX_CLASSES } from './dataset';

interface NpySpec {
  train: { inputs: string; labels: string };
  test: { inputs: string; labels: string };
  train_limit?: number;
  classes?: number;
}

function loadSplit(
  spec: { inputs: string; labels: string },
  baseDir: string,
  field: string,
  limit?: number,
): { split: Split; shape: number[] } {
  const xf = path.resolve(baseDir, spec.inputs);
  const yf = path.resolve(baseDir, spec.labels);
  const xa = readNpy(xf);
  const ya = readNpy(yf);
  if (xa.shape.length < 2)
    throw badInput(`inputs must have shape [N, ...] with at least 2 dimensions, got (${xa.shape.join(', ')})`, {
      file: xf,
      field: `${field}.inputs`,
    });
  if (ya.shape.length !== 1)
    throw badInput(`labels must have shape [N], got (${ya.shape.join(', ')})`, { file: yf, field: `${field}.labels` });
  if (ya.dtype === 'float32' || ya.dtype === 'float64') {
    throw badInput(`labels must be integers (uint8, int32 or int64), got ${ya.dtype}`, {
      file: yf,
      field: `${field}.labels`,
    });
  }
  if (xa.shape[0] !== ya.shape[0]) {
    throw badInput(`inputs have ${xa.shape[0]} rows but labels have ${ya.shape[0]}`, {
      file: yf,
      field: `${field}.labels`,
    });
  }
  const n = Math.min(xa.shape[0], limit ?? Infinity);
  const width = xa.shape.slice(1).reduce((a, b) => a * b, 1);
  checkNonEmpty(n, `${field} split`, { file: xf, field: `${field}.inputs` });
  checkFinite(xa.data.subarray(0, n * width), width, `${field} inputs`, { file: xf, field: `${field}.inputs` });
  // Before the labels become int32: an int64 label of 2^31 would wrap to a negative one.
  checkLabels(ya.data.subarray(0, n), MAX_CLASSES, `${field} labels`, { file: yf, field: `${field}.labels` });
  return {
    split: { n, x: Float32Array.from(xa.data.subarray(0, n * width)), y: Int32Array.from(ya.data.subarray(0, n)) },
    shape: xa.shape.slice(1),
  };
}

export function loadNpyDataset(spec: NpySpec, baseDir: string): Dataset {
  const tr = loadSplit(spec.train, baseDir, 'dataset.train', spec.train_limit);
  const te = loadSplit(spec.test, baseDir, 'dataset.test');
  if (tr.shape.join('x') !== te.shape.join('x')) {
    throw badInput(
      `train inputs have per-example shape (${tr.shape.join(', ')}) but test inputs have (${te.shape.join(', ')})`,
      { file: path.resolve(baseDir, spec.test.inputs), field: 'dataset.test.inputs' },
    );
  }
  let maxLabel = 0;
  for (const v of tr.split.y) maxLabel = Math.max(maxLabel, v);
  const numClasses = spec.classes ?? maxLabel + 1;
  checkLabels(tr.split.y, numClasses, 'train labels', {
    file: path.resolve(baseDir, spec.train.labels),
    field: 'dataset.train.labels',
  });
  checkLabels(te.split.y, numClasses, 'test labels', {
    file: path.resolve(baseDir, spec.test.labels),
    field: 'dataset.test.labels',
  });
  // Inputs of rank 1 per example (vectors) stay vectors; images [H, W] gain a channel axis.
  const inputShape = tr.shape.length === 2 ? [...tr.shape, 1] : tr.shape;
  return { name: 'npy', inputShape, numClasses, train: tr.split, test: te.split };
}
