/**
 * The two-tower student of paired image + text datasets (paper §4.3): an image tower (mlp or
 * cnn on the row's pixels) ending in d_img features and a text tower (the small transformer on
 * the row's token ids) ending in d_txt; φ is their tensor product
 * vec(φ_img ⊗ φ_txt), φ[i·d_txt + j] = φ_img[i]·φ_txt[j], then the linear head. Every feature of φ
 * is a product of an image and a text feature, so a linear head on it can express interactions
 * ("does the caption match the image") that a head on the concatenation cannot.
 * Each tower's features are linear (its last layer has no ReLU): with ReLU, towers of a few
 * features often start with most of them dead (measured: a cnn + transformer pair with 4
 * features each gave φ = 0 on every example at seed 1, so nothing could train), and a dead
 * feature zeroes a whole block of φ; the product is already non-linear.
 * Parameters are named `image.*`, `text.*` and `head.*` (the checkpoint keys).
 */
import { towerSpecs, type DownstreamSpec } from '../../../core/node/experiment/schema';
import { badInput } from '../../../core/common/util/errors';
import { tf, type Tensor, type Tensor2D, type Variable } from '../runtime/tf';
import { Rng } from '../util/rng';
import type { PairedLayout } from '../data/dataset';
import type { DownstreamModel } from './downstream';
import { textTrunk } from './transformer';
import { mlpCnnTrunk, trunkModel } from './trunks';

/** vec(a ⊗ b) per row: [B, da] × [B, db] → [B, da·db], a's index outer. */
export function tensorProduct(a: Tensor2D, b: Tensor2D): Tensor2D {
  const [batch, da] = a.shape;
  return tf.reshape(tf.mul(tf.reshape(a, [batch, da, 1]), tf.reshape(b, [batch, 1, b.shape[1]])), [
    batch,
    da * b.shape[1],
  ]);
}

export function createTwoTower(
  spec: DownstreamSpec,
  inputShape: number[],
  numClasses: number,
  seed: number,
  inputs: { vocabSize?: number; paired?: PairedLayout },
): DownstreamModel {
  const layout = inputs.paired;
  const where = { file: '<experiment>', field: 'downstream.model' };
  if (!layout || inputs.vocabSize === undefined)
    throw badInput(
      `the two-tower model reads image + text rows from a \`paired\` dataset; this dataset's inputs have shape [${inputShape.join(', ')}]`,
      where,
    );
  const [H, W, C] = layout.image;
  const P = H * W * C;
  const T = layout.tokens;
  if (inputShape.length !== 1 || inputShape[0] !== P + T)
    throw new Error(`internal error: paired rows of ${inputShape.join('x')} values, layout ${P} + ${T}`);
  const { image, text } = towerSpecs(spec);
  const [dImg, dTxt] = spec.features;
  const rng = new Rng(seed);
  const params = new Map<string, Variable>();
  const imageTower = mlpCnnTrunk(
    { ...image, hidden: [...image.hidden, dImg] },
    layout.image,
    rng,
    params,
    'image.',
    'downstream.image',
    true,
  );
  const textTower = textTrunk(
    { ...text, hidden: [...text.hidden, dTxt] },
    [T],
    inputs.vocabSize,
    rng,
    params,
    'text.',
    'downstream.text',
    true,
  );
  const towers = {
    featureDim: dImg * dTxt,
    features(x: Tensor): Tensor2D {
      const batch = x.shape[0];
      const pixels = tf.reshape(tf.slice(x, [0, 0], [batch, P]), [batch, H, W, C]);
      const ids = tf.slice(x, [0, P], [batch, T]);
      return tensorProduct(imageTower.features(pixels), textTower.features(ids));
    },
  };
  return trunkModel('two-tower', towers, params, rng, numClasses);
}
