/** A `product` source: vec(ψ_a ⊗ ψ_b) per example (a hand computation), and its width bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AftError } from '../../core/common/util/errors';
import { MAX_PRODUCT_WIDTH } from '../../core/node/experiment/schema';
import type { FeatureBlock } from '../../sidecar/src/features/features';
import { productFeatures } from '../../sidecar/src/features/product';

const block = (name: string, width: number, train: number[], test: number[]): FeatureBlock => ({
  name,
  kind: 'onnx',
  width,
  train: Float32Array.from(train),
  test: Float32Array.from(test),
});

describe('product sources', () => {
  it('gives vec(a ⊗ b) per row, a index outer, for both splits', () => {
    const a = block('img', 2, [1, 2, -1, 0.5], [3, 0]);
    const b = block('txt', 3, [3, 4, 5, 2, 0, -2], [1, 1, 2]);
    const p = productFeatures('img-x-txt', a, b, 2);
    assert.deepEqual([p.name, p.kind, p.width], ['img-x-txt', 'product', 6]);
    // `+ 0` makes −0 (−1 · 0) compare equal to 0.
    assert.deepEqual(
      Array.from(p.train, (v) => v + 0),
      [3, 4, 5, 6, 8, 10, -2, 0, 2, 1, 0, -1],
    );
    assert.deepEqual(
      Array.from(p.test, (v) => v + 0),
      [3, 3, 6, 0, 0, 0],
    );
  });

  it(`refuses a product wider than ${MAX_PRODUCT_WIDTH}, naming both sources`, () => {
    const wide = (name: string): FeatureBlock => block(name, 300, new Array<number>(300).fill(1), []);
    assert.throws(
      () => productFeatures('p', wide('a'), wide('b'), 3),
      (e: unknown) =>
        e instanceof AftError &&
        /product of a \(300 features\) and b \(300\) would be 90000 wide/.test(e.message) &&
        e.location?.field === 'pretrained[3].product',
    );
  });
});
