import * as path from 'node:path';
import { checkFinite } from '../data/dataset';
import { readNpy } from '../../../core/node/io/npy';
import { readSafetensors } from '../../../core/node/io/safetensors';
import { badInput } from '../../../core/common/util/errors';
import type { FeatureBlock } from './features';

interface Matrix {
  rows: number;
  width: number;
  data: Float32Array;
}

function readMatrix(file: string, key: string | undefined, field: string): Matrix {
  let shape: number[];
  let data: Float32Array;
  if (file.endsWith('.npy')) {
    const a = readNpy(file);
    shape = a.shape;
    // Checked as read: float64 values past float32's range would become Inf here.
    checkFinite(a.data, a.shape[a.shape.length - 1] ?? 1, 'features', { file, field });
    data = Float32Array.from(a.data);
  } else if (file.endsWith('.safetensors')) {
    const { tensors } = readSafetensors(file);
    const names = Object.keys(tensors);
    const name = key ?? (names.length === 1 ? names[0] : names.includes('features') ? 'features' : undefined);
    if (name === undefined || !tensors[name]) {
      throw badInput(
        key
          ? `no tensor '${key}' in this file (it has: ${names.join(', ')})`
          : `the file has several tensors (${names.join(', ')}); name one with \`key\``,
        { file, field },
      );
    }
    shape = tensors[name].shape;
    data = tensors[name].data;
  } else {
    throw badInput('features must be a .npy or .safetensors file', { file, field });
  }
  if (shape.length !== 2) throw badInput(`features must have shape [N, D], got [${shape.join(', ')}]`, { file, field });
  return { rows: shape[0], width: shape[1], data };
}

/** Features computed elsewhere (DINOv2, CLIP, ...), one row per example of each split. */
export function precomputedFeatures(
  name: string,
  spec: { train: string; test: string; key?: string },
  baseDir: string,
  nTrain: number,
  nTest: number,
  index: number,
): FeatureBlock {
  const field = `pretrained[${index}].features`;
  const trainFile = path.resolve(baseDir, spec.train);
  const testFile = path.resolve(baseDir, spec.test);
  const tr = readMatrix(trainFile, spec.key, `${field}.train`);
  const te = readMatrix(testFile, spec.key, `${field}.test`);
  // Train features may have more rows when the dataset uses only its first N examples.
  if (tr.rows < nTrain)
    throw badInput(`has ${tr.rows} rows but the training split has ${nTrain} examples`, {
      file: trainFile,
      field: `${field}.train`,
    });
  if (te.rows !== nTest)
    throw badInput(`has ${te.rows} rows but the test split has ${nTest} examples`, {
      file: testFile,
      field: `${field}.test`,
    });
  if (tr.width !== te.width)
    throw badInput(`train features are ${tr.width} wide but test features are ${te.width} wide`, {
      file: testFile,
      field: `${field}.test`,
    });
  const train = tr.data.subarray(0, nTrain * tr.width);
  checkFinite(train, tr.width, `features '${name}' (train)`, { file: trainFile, field: `${field}.train` });
  checkFinite(te.data, te.width, `features '${name}' (test)`, { file: testFile, field: `${field}.test` });
  return { name, kind: 'precomputed', width: tr.width, train: Float32Array.from(train), test: te.data };
}
