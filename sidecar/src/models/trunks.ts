/**
 * The layers a downstream model is built of, up to its features φ, and its linear head: shared
 * by the mlp/cnn models and the two-tower model's image tower.
 */
import { tf, type Tensor, type Tensor2D, type Tensor4D, type Variable } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import type { Rng } from '../util/rng';
import { channelBias, conv3x3, dense, denseRelu, glorot, heUniform, relu, variable } from './layers';
import type { DownstreamModel, ModelOutput, Trunk } from './downstream';

export interface Layer {
  w: Variable;
  b: Variable;
}

export function makeLayer(
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

/** A linear head `name.w`, `name.b` (Glorot, zero bias) from `width` features to the classes. */
export function linearHead(
  params: Map<string, Variable>,
  rng: Rng,
  width: number,
  numClasses: number,
  name: string,
): Layer {
  return makeLayer(params, name, glorot(rng, width, numClasses, [width, numClasses]), [width, numClasses], numClasses);
}

/**
 * A model of `kind` from its trunk (whose parameters are in `params`) and a new linear head
 * `head` to the classes: φ is the trunk's output, the logits its product with the head.
 */
export function trunkModel(
  kind: DownstreamModel['kind'],
  trunk: Trunk,
  params: Map<string, Variable>,
  rng: Rng,
  numClasses: number,
): DownstreamModel {
  const head = linearHead(params, rng, trunk.featureDim, numClasses, 'head');
  return {
    kind,
    featureDim: trunk.featureDim,
    params,
    forward(x: Tensor): ModelOutput {
      const phi = trunk.features(x);
      return { phi, logits: dense(phi, head.w, head.b) };
    },
    dispose() {
      for (const v of params.values()) v.dispose();
    },
  };
}

/**
 * An mlp's or cnn's layers up to φ (the head's input): 3x3 conv + 2x2 max-pool blocks
 * (`channels`, cnn only), then ReLU dense layers (`hidden`; the last one without its ReLU when
 * `linearOut`). Parameters go into `params` as `<prefix>conv<i>` and `<prefix>fc<i>`; `field` is
 * where the spec is, for messages.
 */
export function mlpCnnTrunk(
  spec: { model: 'mlp' | 'cnn'; channels: number[]; hidden: number[] },
  inputShape: number[],
  rng: Rng,
  params: Map<string, Variable>,
  prefix: string,
  field: string,
  linearOut = false,
): Trunk {
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const convs: Layer[] = [];
  let flat = inputSize;
  if (spec.model === 'cnn') {
    if (inputShape.length !== 3)
      throw badInput(
        `the cnn needs image inputs [H, W, C]; this dataset's inputs have shape [${inputShape.join(', ')}]`,
        { file: '<experiment>', field: `${field}.model` },
      );
    let [h, w, c] = inputShape as [number, number, number];
    spec.channels.forEach((out, i) => {
      convs.push(makeLayer(params, `${prefix}conv${i}`, heUniform(rng, 9 * c, [3, 3, c, out]), [3, 3, c, out], out));
      c = out;
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      if (h < 1 || w < 1)
        throw badInput(`too many conv blocks for ${inputShape[0]}x${inputShape[1]} inputs`, {
          file: '<experiment>',
          field: `${field}.channels`,
        });
    });
    flat = h * w * c;
  }
  const hidden: Layer[] = [];
  let width = flat;
  spec.hidden.forEach((out, i) => {
    hidden.push(makeLayer(params, `${prefix}fc${i}`, heUniform(rng, width, [width, out]), [width, out], out));
    width = out;
  });
  return {
    featureDim: width,
    features(x: Tensor): Tensor2D {
      const batch = x.shape[0];
      let h: Tensor = x;
      // relu(maxPool(conv + b)) computed as relu(maxPool(conv) + b): the same values (adding b
      // and relu are monotone, so they commute with the max, exactly in floating point), with the
      // bias, the relu and their gradients on a quarter of the elements.
      convs.forEach((l, i) => {
        h = relu(channelBias(tf.maxPool(conv3x3(h as Tensor4D, l.w as Tensor4D, i === 0), 2, 2, 'valid'), l.b));
      });
      h = tf.reshape(h, [batch, -1]);
      hidden.forEach((l, i) => {
        const onData = i === 0 && convs.length === 0;
        h = linearOut && i === hidden.length - 1 ? dense(h, l.w, l.b, onData) : denseRelu(h, l.w, l.b, onData);
      });
      return h as Tensor2D;
    },
  };
}
