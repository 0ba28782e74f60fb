/**
 * The ONNX graph of an MLP-Mixer student (timm's layout; export/student.ts writes the file).
 * Input [N, H, W, C]; outputs `logits` and `features` (φ: the token mean after the final norm).
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { mixerStateShapes, type MixerShape } from '../../../core/node/students/mixer';
import { MIXER_LN_EPS } from '../models/mixer';
import { attr, OnnxGraph } from './graph';
import { layerNormNode, linearNode, mlpNodes, patchEmbedNodes, StateReader } from './tokens';

export function mixerGraph(state: Record<string, StTensor>, s: MixerShape, inputShape: number[]): OnnxGraph {
  const g = new OnnxGraph(`aft-${s.arch}`);
  const r = new StateReader(g, state, mixerStateShapes(s));
  let h = patchEmbedNodes(g, r, g.input('input', ['N', ...inputShape]), 'stem.proj');
  const swap = { perm: attr.ints([0, 2, 1]) };
  for (let i = 0; i < s.depth; i++) {
    const b = `blocks.${i}`;
    const t = g.node('Transpose', [layerNormNode(g, r, h, `${b}.norm1`, MIXER_LN_EPS)], swap);
    h = g.node('Add', [h, g.node('Transpose', [mlpNodes(g, r, t, `${b}.mlp_tokens`)], swap)]);
    h = g.node('Add', [h, mlpNodes(g, r, layerNormNode(g, r, h, `${b}.norm2`, MIXER_LN_EPS), `${b}.mlp_channels`)]);
  }
  h = layerNormNode(g, r, h, 'norm', MIXER_LN_EPS);
  const phi = g.node('ReduceMean', [h], { axes: attr.ints([1]), keepdims: attr.int(0) }, 'features');
  linearNode(g, r, phi, 'head', 'logits');
  g.output('logits', ['N', s.numClasses]);
  g.output('features', ['N', s.embedDim]);
  return g;
}
