/**
 * The ONNX graph of a ViT/DeiT student (timm's layout; export/student.ts writes the file). Input
 * [N, H, W, C] as the engine has it; outputs `logits` and `features` (φ: the class token after
 * the final norm). Attention is written out: MatMul for q·kᵀ and attn·v, Softmax, the heads split
 * by Reshape/Transpose as timm's reshape(B, N, 3, heads, hd).
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { vitStateShapes, type ViTShape } from '../../../core/node/students/vit';
import { VIT_LN_EPS } from '../models/vit';
import { attr, OnnxGraph } from './graph';
import { layerNormNode, linearNode, mlpNodes, patchEmbedNodes, StateReader } from './tokens';

export function vitGraph(state: Record<string, StTensor>, s: ViTShape, inputShape: number[]): OnnxGraph {
  const g = new OnnxGraph(`aft-${s.arch}`);
  const r = new StateReader(g, state, vitStateShapes(s));
  const d = s.embedDim;
  const hd = d / s.heads;
  const tokens = s.grid[0] * s.grid[1] + 1;
  const input = g.input('input', ['N', ...inputShape]);
  const patches = patchEmbedNodes(g, r, input, 'patch_embed.proj');
  // The class token repeated over the batch: [1, 1, D] expanded to [N, 1, D] (N read from the input).
  const n = g.node('Slice', [g.node('Shape', [input]), g.int64s('n.start', [0]), g.int64s('n.end', [1])]);
  const clsShape = g.node('Concat', [n, g.int64s('cls.rest', [1, d])], { axis: attr.int(0) });
  const cls = g.node('Expand', [r.init('cls_token'), clsShape]);
  let h = g.node('Add', [g.node('Concat', [cls, patches], { axis: attr.int(1) }), r.init('pos_embed')]);
  const scale = g.initializer('attn.scale', Float32Array.of(1 / Math.sqrt(hd)), []);
  const headsShape = g.int64s('attn.qkv_shape', [0, tokens, 3, s.heads, hd]);
  const mergedShape = g.int64s('attn.merged_shape', [0, tokens, d]);
  for (let i = 0; i < s.depth; i++) {
    const b = `blocks.${i}`;
    const qkv = linearNode(g, r, layerNormNode(g, r, h, `${b}.norm1`, VIT_LN_EPS), `${b}.attn.qkv`);
    // [N, T, 3D] → [3, N, heads, T, hd]
    const split = g.node('Transpose', [g.node('Reshape', [qkv, headsShape])], { perm: attr.ints([2, 0, 3, 1, 4]) });
    const [q, k, v] = [0, 1, 2].map((j) =>
      g.node('Gather', [split, g.initializer(`${b}.attn.idx${j}`, BigInt64Array.of(BigInt(j)), [])], {
        axis: attr.int(0),
      }),
    );
    const kT = g.node('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) });
    const attn = g.node('Softmax', [g.node('Mul', [g.node('MatMul', [q, kT]), scale])], { axis: attr.int(-1) });
    const o = g.node('Transpose', [g.node('MatMul', [attn, v])], { perm: attr.ints([0, 2, 1, 3]) });
    h = g.node('Add', [h, linearNode(g, r, g.node('Reshape', [o, mergedShape]), `${b}.attn.proj`)]);
    h = g.node('Add', [h, mlpNodes(g, r, layerNormNode(g, r, h, `${b}.norm2`, VIT_LN_EPS), `${b}.mlp`)]);
  }
  h = layerNormNode(g, r, h, 'norm', VIT_LN_EPS);
  const phi = g.node(
    'Gather',
    [h, g.initializer('cls.index', BigInt64Array.of(0n), [])],
    { axis: attr.int(1) },
    'features',
  );
  linearNode(g, r, phi, 'head', 'logits');
  g.output('logits', ['N', s.numClasses]);
  g.output('features', ['N', d]);
  return g;
}
