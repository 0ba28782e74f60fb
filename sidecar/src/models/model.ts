/**
 * Downstream models. Each exposes its features φ (the input of its linear head) next to its
 * logits, because every transfer method regularises φ.
 */
import type { DownstreamSpec } from '../../../core/node/experiment/schema';
import type { StTensor } from '../../../core/node/io/safetensors';
import { tf, type Tensor, type Tensor2D, type Tensor4D, type Variable } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import { Rng } from '../util/rng';
import { channelBias, conv3x3, dense, denseRelu, glorot, heUniform, variable } from './layers';
import type { DownstreamModel, ModelOutput } from './downstream';
import { createPretrainedStudent } from './pretrained';
import { createTransformer } from './transformer';

interface Layer {
  w: Variable;
  b: Variable;
}

function makeLayer(
  params: Map<string, Variable>,
  name: string,
  w: Float32Array,
  wShape: number[],
  bLen: number,
): Layer {
  const layer = { w: variable(w, wShape, `${name}.w`), b: variable(new Float32Array(bLen), [bLen], `${name}.b`) };
  params.set(`${name}.w`, layer.w);
  params.set(`${name}.b`, layer.b);
  return layer;
}

/**
 * `vocabSize` is needed by the transformer (text datasets) only; a `pretrained` student reads
 * `spec.folder` (absolute) and says on `log` what it converted.
 */
export function createModel(
  spec: DownstreamSpec,
  inputShape: number[],
  numClasses: number,
  seed: number,
  vocabSize?: number,
  log?: (m: string) => void,
): DownstreamModel {
  if (spec.model === 'transformer') return createTransformer(spec, inputShape, numClasses, seed, vocabSize);
  if (spec.model === 'pretrained') return createPretrainedStudent(spec, inputShape, numClasses, seed, log, vocabSize);
  const rng = new Rng(seed);
  const params = new Map<string, Variable>();
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const convs: Layer[] = [];
  let flat = inputSize;
  if (spec.model === 'cnn') {
    if (inputShape.length !== 3)
      throw badInput(
        `the cnn needs image inputs [H, W, C]; this dataset's inputs have shape [${inputShape.join(', ')}]`,
        { file: '<experiment>', field: 'downstream.model' },
      );
    let [h, w, c] = inputShape as [number, number, number];
    spec.channels.forEach((out, i) => {
      convs.push(makeLayer(params, `conv${i}`, heUniform(rng, 9 * c, [3, 3, c, out]), [3, 3, c, out], out));
      c = out;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      if (h < 1 || w < 1)
        throw badInput(`too many conv blocks for ${inputShape[0]}x${inputShape[1]} inputs`, {
          file: '<experiment>',
          field: 'downstream.channels',
        });
    });
    flat = h * w * c;
  }
  const hidden: Layer[] = [];
  let width = flat;
  spec.hidden.forEach((out, i) => {
    hidden.push(makeLayer(params, `fc${i}`, heUniform(rng, width, [width, out]), [width, out], out));
    width = out;
  });
  const head = makeLayer(
    params,
    'head',
    glorot(rng, width, numClasses, [width, numClasses]),
    [width, numClasses],
    numClasses,
  );
  return {
    kind: spec.model,
    featureDim: width,
    params,
    forward(x: Tensor): ModelOutput {
      const batch = x.shape[0];
      let h: Tensor = x;
      // relu(maxPool(conv + b)) computed as relu(maxPool(conv) + b): the same values (adding b
      // and relu are monotone, so they commute with the max, exactly in floating point), with the
      // bias, the relu and their gradients on a quarter of the elements.
      convs.forEach((l, i) => {
        h = tf.relu(channelBias(tf.maxPool(conv3x3(h as Tensor4D, l.w as Tensor4D, i === 0), 2, 2, 'valid'), l.b));
      });
      h = tf.reshape(h, [batch, -1]);
      hidden.forEach((l, i) => {
        h = denseRelu(h, l.w, l.b, i === 0 && convs.length === 0);
      });
      const phi = h as Tensor2D;
      return { phi, logits: dense(phi, head.w, head.b) };
    },
    dispose() {
      for (const v of params.values()) v.dispose();
    },
  };
}

/**
 * Parameters (and buffers, such as BatchNorm's running statistics) as plain arrays, for
 * checkpoints and export (read asynchronously, as webgpu needs).
 */
export async function modelWeights(model: DownstreamModel): Promise<Record<string, StTensor>> {
  const out: Record<string, StTensor> = {};
  for (const [k, v] of model.params) out[k] = { shape: v.shape, data: (await v.data()) as Float32Array };
  for (const [k, v] of model.buffers ?? []) out[k] = { shape: v.shape, data: (await v.data()) as Float32Array };
  return out;
}
