/**
 * Vision Transformers (Dosovitskiy et al. 2021) and DeiT (Touvron et al. 2021, the same modules)
 * as timm lays them out: cls_token, pos_embed, patch_embed.proj, blocks.N.{norm1, attn.qkv,
 * attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head. Pre-norm blocks with LayerNorm (ε 1e-6, as
 * timm), softmax attention scaled by head_dim^-0.5 and an exact-erf GELU MLP; the class token is
 * prepended before the position embeddings are added. φ is the class token after the final norm
 * (timm's `forward_head(pre_logits=True)` with global_pool `token`). Dropout (timm's rates, 0 by
 * default) acts in training only, with seeded masks.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { tf, type Tensor, type Tensor2D, type Tensor4D } from '../runtime/tf';
import { Rng } from '../util/rng';
import type { ForwardMode, ModelOutput } from './downstream';
import { denseT } from './layers';
import { initState, stateVariables, truncNormal } from './stateDict';
import type { StudentModel, StudentOptions } from './students/family';
import { vitStateShapes, type ViTShape } from '../../../core/node/students/vit';
import { attention, dropout, gelu, layerNorm, linear, patchEmbed } from './tokenLayers';

export const VIT_LN_EPS = 1e-6;

/**
 * timm's initialisation of a new ViT (`init_weights` with the default mode): position embeddings
 * and linear weights truncated normal (std 0.02), the class token normal (std 1e-6), linear biases
 * 0, LayerNorm 1 and 0, the patch stem as PyTorch's Conv2d default (uniform ±1/√fan-in).
 */
export function initViTState(s: ViTShape, rng: Rng): Record<string, StTensor> {
  const stemBound = 1 / Math.sqrt(s.inChannels * s.patch * s.patch);
  return initState(vitStateShapes(s), (e, n) => {
    if (e.key === 'cls_token') return Float32Array.from({ length: n }, () => rng.normal() * 1e-6);
    if (e.key.startsWith('patch_embed.'))
      return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * stemBound);
    if (e.key === 'pos_embed' || (e.shape.length === 2 && e.key.endsWith('.weight'))) return truncNormal(rng, n, 0.02);
    return /norm\d?\.weight$/.test(e.key) ? new Float32Array(n).fill(1) : new Float32Array(n);
  });
}

export interface ViTModel extends StudentModel {
  shape: ViTShape;
}

/** A ViT with the given state dict (PyTorch layout, already checked against `vitStateShapes(shape)`). */
export function buildViT(shape: ViTShape, state: Record<string, StTensor>, opts: StudentOptions): ViTModel {
  const vars = stateVariables(vitStateShapes(shape), state, new Set(['patch_embed.proj.weight']));
  const w = (key: string): Tensor => vars.params.get(key)!;
  const { embedDim: d, heads, dropout: rates } = shape;
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
      const n = x.shape[0];
      const patches = patchEmbed(x as Tensor4D, w('patch_embed.proj.weight') as Tensor4D, w('patch_embed.proj.bias'));
      const tokens = shape.grid[0] * shape.grid[1] + 1;
      const cls = tf.tile(w('cls_token'), [n, 1, 1]);
      let h = drop(tf.add(tf.concat([cls, patches], 1), w('pos_embed')), rates.pos);
      for (let i = 0; i < shape.depth; i++) {
        const b = `blocks.${i}`;
        const a = layerNorm(h, w(`${b}.norm1.weight`), w(`${b}.norm1.bias`), VIT_LN_EPS);
        const qkv = linear(a, w(`${b}.attn.qkv.weight`), w(`${b}.attn.qkv.bias`));
        // [n, tokens, 3d] → q, k, v (timm's reshape(B, N, 3, heads, hd)).
        const [q, k, v] = tf.split(qkv, 3, 2) as [Tensor, Tensor, Tensor];
        const o = attention(q, k, v, { n, tokens, heads }, { dropProbs: (p) => drop(p, rates.attn) });
        h = tf.add(h, drop(linear(o, w(`${b}.attn.proj.weight`), w(`${b}.attn.proj.bias`)), rates.proj));
        const m = layerNorm(h, w(`${b}.norm2.weight`), w(`${b}.norm2.bias`), VIT_LN_EPS);
        const f = drop(gelu(linear(m, w(`${b}.mlp.fc1.weight`), w(`${b}.mlp.fc1.bias`))), rates.proj);
        h = tf.add(h, drop(linear(f, w(`${b}.mlp.fc2.weight`), w(`${b}.mlp.fc2.bias`)), rates.proj));
      }
      h = layerNorm(h, w('norm.weight'), w('norm.bias'), VIT_LN_EPS);
      const phi = tf.reshape<tf.Rank.R2>(tf.slice(h, [0, 0, 0], [n, 1, d]), [n, d]);
      const logits = denseT(drop(phi, rates.head) as Tensor2D, w('head.weight') as Tensor2D, w('head.bias'));
      return { phi, logits };
    },
    stateDict: vars.read,
    dispose: vars.dispose,
  };
}
