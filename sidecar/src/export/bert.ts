/**
 * The ONNX graph of a BERT or DistilBERT student (transformers' layout; export/student.ts writes
 * the file). Inputs `input_ids` and `attention_mask`, int64 [N, T] as transformers' tokenizers
 * give them; outputs `logits` and `features` (φ: the first token's last hidden state). Gather
 * for the embeddings, LayerNormalization, MatMul, Softmax attention with the padding keys given
 * float32's lowest value, Erf GELU, and the pooler's Tanh (BERT) or pre_classifier's Relu
 * (DistilBERT). `tokenFeeds` turns the engine's ids (-1 for padding) into these inputs.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { textKeys, textStateShapes, type TextEncoderShape } from '../../../core/node/students/bert';
import { MASKED_SCORE } from '../models/bert';
import type { OnnxTensor } from '../runtime/onnx';
import { DataType } from './proto';
import { attr, OnnxGraph } from './graph';
import { geluNode, layerNormNode, linearNode, StateReader } from './tokens';

export function textGraph(state: Record<string, StTensor>, s: TextEncoderShape): OnnxGraph {
  const g = new OnnxGraph(`aft-${s.arch}`);
  const r = new StateReader(g, state, textStateShapes(s));
  const k = textKeys(s);
  const d = s.hidden;
  const hd = d / s.heads;
  const ids = g.input('input_ids', ['N', 'T'], DataType.INT64);
  const maskIn = g.input('attention_mask', ['N', 'T'], DataType.INT64);
  // Position embeddings 0..T-1: the first T rows of the table, T read from the input.
  const t = g.node('Slice', [g.node('Shape', [ids]), g.int64s('t.start', [1]), g.int64s('t.end', [2])]);
  const positions = g.node('Slice', [r.init(k.position), g.int64s('pos.start', [0]), t, g.int64s('pos.axes', [0])]);
  let h = g.node('Add', [g.node('Gather', [r.init(k.word), ids], { axis: attr.int(0) }), positions]);
  if (k.tokenType) {
    // token_type_ids are 0: row 0 of the table.
    const row0 = r.data(k.tokenType).slice(0, d);
    h = g.node('Add', [h, g.initializer(`${k.tokenType}.row0`, row0, [d])]);
  }
  h = layerNormNode(g, r, h, k.embNorm, s.eps);
  // (1 − mask) · float32's lowest, as [N, 1, 1, T]: added to every head's scores.
  const mask = g.node('Cast', [maskIn], { to: attr.int(DataType.FLOAT) });
  const inverted = g.node('Sub', [g.initializer('mask.one', Float32Array.of(1), []), mask]);
  const bias = g.node('Unsqueeze', [
    g.node('Mul', [inverted, g.initializer('mask.min', Float32Array.of(MASKED_SCORE), [])]),
    g.int64s('mask.axes', [1, 2]),
  ]);
  const scale = g.initializer('attn.scale', Float32Array.of(1 / Math.sqrt(hd)), []);
  const headsShape = g.int64s('attn.heads_shape', [0, 0, s.heads, hd]);
  const mergedShape = g.int64s('attn.merged_shape', [0, 0, d]);
  const heads = (x: string, perm: number[]): string =>
    g.node('Transpose', [g.node('Reshape', [x, headsShape])], { perm: attr.ints(perm) });
  for (let i = 0; i < s.layers; i++) {
    const l = k.layer(i);
    const q = heads(linearNode(g, r, h, l.q), [0, 2, 1, 3]);
    const kT = heads(linearNode(g, r, h, l.k), [0, 2, 3, 1]);
    const v = heads(linearNode(g, r, h, l.v), [0, 2, 1, 3]);
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, kT]), scale]), bias]);
    const attn = g.node('Softmax', [scores], { axis: attr.int(-1) });
    const ctx = g.node('Transpose', [g.node('MatMul', [attn, v])], { perm: attr.ints([0, 2, 1, 3]) });
    const o = linearNode(g, r, g.node('Reshape', [ctx, mergedShape]), l.o);
    h = layerNormNode(g, r, g.node('Add', [o, h]), l.attnNorm, s.eps);
    const f = linearNode(g, r, geluNode(g, linearNode(g, r, h, l.ffn1), l.ffn1), l.ffn2);
    h = layerNormNode(g, r, g.node('Add', [f, h]), l.outNorm, s.eps);
  }
  const phi = g.node(
    'Gather',
    [h, g.initializer('cls.index', BigInt64Array.of(0n), [])],
    { axis: attr.int(1) },
    'features',
  );
  g.output('features', ['N', d]);
  if (s.numClasses > 0) {
    const pooled = linearNode(g, r, phi, k.pool.key);
    const act = g.node(k.pool.act === 'tanh' ? 'Tanh' : 'Relu', [pooled]);
    linearNode(g, r, act, k.classifier, 'logits');
    g.output('logits', ['N', s.numClasses]);
  }
  return g;
}

/** The engine's ids ([n, T] floats, -1 where padded) as `input_ids` (padding → `padId`) and `attention_mask`. */
export function tokenFeeds(x: Float32Array, n: number, padId: number): Record<string, OnnxTensor> {
  const T = x.length / n;
  const ids = new BigInt64Array(x.length);
  const mask = new BigInt64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const real = x[i] >= 0;
    ids[i] = BigInt(real ? x[i] : padId);
    mask[i] = real ? 1n : 0n;
  }
  return {
    input_ids: { type: 'int64', data: ids, dims: [n, T] },
    attention_mask: { type: 'int64', data: mask, dims: [n, T] },
  };
}
