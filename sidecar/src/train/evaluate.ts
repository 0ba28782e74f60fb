import type { DownstreamModel } from '../models/downstream';
import { tf, type Tensor } from '../runtime/tf';

export interface Examples {
  n: number;
  x: Float32Array;
  y: Int32Array;
  /** Shape of one input. */
  inputShape: number[];
}

/**
 * Examples per evaluation chunk: 1024, fewer for large inputs (about 16 MB of input per chunk:
 * 27 images of 224x224x3), so that a convolutional network's activations stay bounded.
 */
export function evalChunk(inputShape: number[]): number {
  const size = inputShape.reduce((a, b) => a * b, 1);
  return Math.max(1, Math.min(1024, Math.floor(4_194_304 / size)));
}

/**
 * The values of a tensor made by `f` (in a tidy), which is then disposed. Read with `data()`:
 * the webgpu backend cannot read synchronously in Node (its `dataSync` needs OffscreenCanvas).
 */
export async function readTidy(f: () => Tensor): Promise<tf.TypedArray> {
  const t = tf.tidy(f);
  try {
    return await t.data();
  } finally {
    t.dispose();
  }
}

/** Accuracy of the model on `data`, in chunks so memory stays bounded. */
export async function accuracy(
  model: DownstreamModel,
  data: Examples,
  chunk = evalChunk(data.inputShape),
): Promise<number> {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  let correct = 0;
  for (let start = 0; start < data.n; start += chunk) {
    const n = Math.min(chunk, data.n - start);
    const pred = await readTidy(() => {
      const x = tf.tensor(data.x.subarray(start * width, (start + n) * width), [n, ...data.inputShape]);
      return tf.argMax(model.forward(x).logits, 1);
    });
    for (let i = 0; i < n; i++) if (pred[i] === data.y[start + i]) correct++;
  }
  return data.n ? correct / data.n : NaN;
}

/** The model's features φ for every row of `data`, rows × featureDim, in chunks. */
export async function featuresOf(
  model: DownstreamModel,
  data: Examples,
  chunk = evalChunk(data.inputShape),
): Promise<Float32Array> {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.n * model.featureDim);
  for (let start = 0; start < data.n; start += chunk) {
    const n = Math.min(chunk, data.n - start);
    const phi = await readTidy(
      () => model.forward(tf.tensor(data.x.subarray(start * width, (start + n) * width), [n, ...data.inputShape])).phi,
    );
    out.set(phi, start * model.featureDim);
  }
  return out;
}
