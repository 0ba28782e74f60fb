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
 * Float32 elements of activations an evaluation chunk may hold (512 MiB): a ViT-Tiny's 27 images
 * of 224x224 held 2.4 GiB of the wasm heap (test/fixtures/memory/measured.json), a ViT-Small's
 * would not have fitted its 4 GiB at all.
 */
const EVAL_ACTIVATIONS_BUDGET = 2 ** 27;

/**
 * Examples per evaluation chunk: 1024, fewer for large inputs (about 16 MB of input per chunk:
 * 27 images of 224x224x3), so that a convolutional network's activations stay bounded, and
 * fewer again for a model that counts its activations per example (`activations`, elements):
 * at most EVAL_ACTIVATIONS_BUDGET of them.
 */
export function evalChunk(inputShape: number[], activations?: number): number {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const byInput = Math.min(1024, Math.floor(4_194_304 / size));
  const byActivations = activations ? Math.floor(EVAL_ACTIVATIONS_BUDGET / activations) : Infinity;
  return Math.max(1, Math.min(byInput, byActivations));
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
  chunk = evalChunk(data.inputShape, model.evalActivations),
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
  chunk = evalChunk(data.inputShape, model.evalActivations),
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
