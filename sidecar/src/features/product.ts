/**
 * A source whose features are the tensor product of two others' (paper §4.3: on image + text
 * pairs, ψ_img ⊗ ψ_txt relates the two, as the two-tower student's φ does): per example,
 * vec(a ⊗ b), a's index outer, D_a·D_b wide.
 */
import { MAX_PRODUCT_WIDTH } from '../../../core/node/experiment/schema';
import { badInput } from '../../../core/common/util/errors';
import type { FeatureBlock } from './features';

function rowProducts(a: Float32Array, wa: number, b: Float32Array, wb: number, n: number): Float32Array {
  const out = new Float32Array(n * wa * wb);
  for (let r = 0; r < n; r++) {
    const o = r * wa * wb;
    for (let i = 0; i < wa; i++) {
      const ai = a[r * wa + i];
      for (let j = 0; j < wb; j++) out[o + i * wb + j] = ai * b[r * wb + j];
    }
  }
  return out;
}

/** `index`: the source's place in `pretrained`, for messages. */
export function productFeatures(name: string, a: FeatureBlock, b: FeatureBlock, index: number): FeatureBlock {
  const width = a.width * b.width;
  if (width > MAX_PRODUCT_WIDTH)
    throw badInput(
      `the product of ${a.name} (${a.width} features) and ${b.name} (${b.width}) would be ${width} wide; at most ${MAX_PRODUCT_WIDTH} (choose narrower outputs or pooling)`,
      { file: '<experiment>', field: `pretrained[${index}].product` },
    );
  const nTrain = a.train.length / a.width;
  const nTest = a.test.length / a.width;
  return {
    name,
    kind: 'product',
    width,
    train: rowProducts(a.train, a.width, b.train, b.width, nTrain),
    test: rowProducts(a.test, a.width, b.test, b.width, nTest),
  };
}
