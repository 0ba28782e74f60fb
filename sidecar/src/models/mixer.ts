/**
 * MLP-Mixer (Tolstikhin et al. 2021) as timm lays it out: stem.proj, blocks.N.{norm1,
 * mlp_tokens.fc1/fc2, norm2, mlp_channels.fc1/fc2}, norm, head. Each block mixes across tokens
 * (an MLP over the patch axis of the normed input) and then across channels, both residual, with
 * LayerNorm ε 1e-6 and exact-erf GELU. φ is the token mean after the final norm (timm's
 * global_pool `avg`). Dropout (timm's rates, 0 by default) acts in training only, seeded.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../runtime/tf';
import { Rng } from '../util/rng';
import type { ForwardMode, ModelOutput } from './downstream';
import { denseT } from './layers';
import { initState, stateVariables, truncNormal } from './stateDict';
import type { StudentModel, StudentOptions } from './students/family';
import { mixerStateShapes, type MixerShape } from '../../../core/node/students/mixer';
import { dropout, gelu, layerNorm, linear, patchEmbed } from './tokenLayers';

export const MIXER_LN_EPS = 1e-6;

/**
 * timm's initialisation of a new Mixer (`_init_weights`, flax-like): linear weights Xavier-uniform,
 * the MLPs' biases normal (std 1e-6), the head 0, the stem LeCun-normal (truncated, std
 * 1/√fan-in) with bias 0, LayerNorm 1 and 0.
 */
export function initMixerState(s: MixerShape, rng: Rng): Record<string, StTensor> {
  return initState(mixerStateShapes(s), (e, n) => {
    if (e.key.startsWith('head.')) return new Float32Array(n);
    if (e.key === 'stem.proj.weight')
      return truncNormal(rng, n, 1 / Math.sqrt(s.inChannels * s.patch * s.patch) / 0.8796);
    if (e.shape.length === 2) {
      const limit = Math.sqrt(6 / (e.shape[0] + e.shape[1]));
      return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * limit);
    }
    if (e.key.includes('.mlp_') && e.key.endsWith('.bias'))
      return Float32Array.from({ length: n }, () => rng.normal() * 1e-6);
    return /norm\d?\.weight$/.test(e.key) ? new Float32Array(n).fill(1) : new Float32Array(n);
  });
}

export interface MixerModel extends StudentModel {
  shape: MixerShape;
}

export function buildMixer(shape: MixerShape, state: Record<string, StTensor>, opts: StudentOptions): MixerModel {
  const vars = stateVariables(mixerStateShapes(shape), state, new Set(['stem.proj.weight']));
  const w = (key: string): Tensor => vars.params.get(key)!;
  const d = shape.embedDim;
  const rng = new Rng(opts.seed);
  return {
    kind: 'pretrained',
    featureDim: d,
    params: vars.params,
    buffers: vars.buffers,
    shape,
    forward(x: Tensor, mode: ForwardMode = 'eval'): ModelOutput {
      const train = mode === 'train';
      const drop = (t: Tensor, rate: number): Tensor => dropout(t, rate, train, rng);
      const mlp = (t: Tensor, prefix: string): Tensor =>
        drop(
          linear(
            drop(gelu(linear(t, w(`${prefix}.fc1.weight`), w(`${prefix}.fc1.bias`))), shape.dropout.proj),
            w(`${prefix}.fc2.weight`),
            w(`${prefix}.fc2.bias`),
          ),
          shape.dropout.proj,
        );
      let h = patchEmbed(x as Tensor4D, w('stem.proj.weight') as Tensor4D, w('stem.proj.bias'));
      for (let i = 0; i < shape.depth; i++) {
        const b = `blocks.${i}`;
        // Token mixing: the MLP acts on the patch axis of [n, d, patches].
        const t = tf.transpose(layerNorm(h, w(`${b}.norm1.weight`), w(`${b}.norm1.bias`), MIXER_LN_EPS), [0, 2, 1]);
        h = tf.add(h, tf.transpose(mlp(t, `${b}.mlp_tokens`), [0, 2, 1]));
        h = tf.add(
          h,
          mlp(layerNorm(h, w(`${b}.norm2.weight`), w(`${b}.norm2.bias`), MIXER_LN_EPS), `${b}.mlp_channels`),
        );
      }
      h = layerNorm(h, w('norm.weight'), w('norm.bias'), MIXER_LN_EPS);
      const phi = tf.mean<Tensor2D>(h, 1);
      const logits = denseT(drop(phi, shape.dropout.head) as Tensor2D, w('head.weight') as Tensor2D, w('head.bias'));
      return { phi, logits };
    },
    stateDict: vars.read,
    dispose: vars.dispose,
  };
}
