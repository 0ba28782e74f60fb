/**
 * BERT (Devlin et al. 2019) and DistilBERT (Sanh et al. 2019) as Hugging Face transformers lays
 * them out and computes them (modeling_bert.py, modeling_distilbert.py): word + position (+ token
 * type 0) embeddings, LayerNorm; post-LayerNorm blocks of multi-head self-attention (scores scaled
 * by head_dim^-0.5, padding keys given float32's lowest value before the softmax, as transformers
 * does) and an exact-erf GELU feed-forward; ε from the config. The two differ only in key names,
 * DistilBERT's missing token-type embeddings and attention-output dropout, and the head: BERT's
 * pooler (tanh dense on the first token) then `classifier`, DistilBERT's `pre_classifier`, ReLU,
 * then `classifier`.
 *
 * φ is the first ([CLS]) token's last hidden state (the paper's choice); the logits are what the
 * library computes from it, so that a saved student loads into transformers with equal logits.
 * Only `classifier` is the head that `head: reinit` replaces: the pooler is pre-trained with the
 * encoder (BERT's next-sentence task) and kept; DistilBERT's pre_classifier is kept when the
 * folder has one and created (transformers' init) for a bare DistilBertModel.
 *
 * Inputs are token ids as floats [batch, T], -1 where a sequence is padded (the text datasets'
 * encoding): the attention mask is where ids ≥ 0 and padded positions are looked up as the pad id.
 * A padded position's id changes only that position's own output, never the first token's.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { tf, type Tensor, type Tensor2D } from '../runtime/tf';
import { Rng } from '../util/rng';
import type { ForwardMode, ModelOutput } from './downstream';
import { denseT } from './layers';
import { initState, linearEntries, normEntries, param, stateVariables } from './stateDict';
import type { StateEntry, StudentModel, StudentOptions } from './students/family';
import { attention, dropout, embed, gelu, layerNorm, linear } from './tokenLayers';

/** torch.finfo(torch.float32).min: what transformers adds to (BERT) or puts in (DistilBERT) masked scores. */
export const MASKED_SCORE = -3.4028234663852886e38;

export type TextArch = 'bert' | 'distilbert';

export interface TextEncoderShape {
  arch: TextArch;
  /** Classes of `classifier`; 0 for a bare encoder (BertModel, DistilBertModel) without one. */
  numClasses: number;
  /** `bert.` / `distilbert.` before the encoder's keys in a *ForSequenceClassification, '' in a bare model. */
  prefix: string;
  vocab: number;
  maxPositions: number;
  /** BERT's token-type vocabulary (type 0 is used); 0 for DistilBERT. */
  typeVocab: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  eps: number;
  padId: number;
  dropout: { hidden: number; attn: number; classifier: number };
  /** transformers' initializer_range: the std of a new model's weights. */
  initStd: number;
}

/** One layer's keys, by role. */
interface LayerKeys {
  q: string;
  k: string;
  v: string;
  o: string;
  attnNorm: string;
  ffn1: string;
  ffn2: string;
  outNorm: string;
}

/** The keys of each part of the encoder, by role, in transformers' names. */
export function textKeys(s: Pick<TextEncoderShape, 'arch' | 'prefix'>) {
  const p = s.prefix;
  const bert = s.arch === 'bert';
  const e = `${p}embeddings`;
  return {
    word: `${e}.word_embeddings.weight`,
    position: `${e}.position_embeddings.weight`,
    tokenType: bert ? `${e}.token_type_embeddings.weight` : undefined,
    embNorm: `${e}.LayerNorm`,
    layer(i: number): LayerKeys {
      if (bert) {
        const l = `${p}encoder.layer.${i}`;
        return {
          q: `${l}.attention.self.query`,
          k: `${l}.attention.self.key`,
          v: `${l}.attention.self.value`,
          o: `${l}.attention.output.dense`,
          attnNorm: `${l}.attention.output.LayerNorm`,
          ffn1: `${l}.intermediate.dense`,
          ffn2: `${l}.output.dense`,
          outNorm: `${l}.output.LayerNorm`,
        };
      }
      const l = `${p}transformer.layer.${i}`;
      return {
        q: `${l}.attention.q_lin`,
        k: `${l}.attention.k_lin`,
        v: `${l}.attention.v_lin`,
        o: `${l}.attention.out_lin`,
        attnNorm: `${l}.sa_layer_norm`,
        ffn1: `${l}.ffn.lin1`,
        ffn2: `${l}.ffn.lin2`,
        outNorm: `${l}.output_layer_norm`,
      };
    },
    /** BERT's pooler (tanh) is part of the encoder; DistilBERT's pre_classifier (ReLU) of the classification model. */
    pool: bert ? { key: `${p}pooler.dense`, act: 'tanh' as const } : { key: 'pre_classifier', act: 'relu' as const },
    classifier: 'classifier',
  };
}

/** Whether the state has DistilBERT's pre_classifier or BERT's pooler: BERT's is always there. */
const hasPool = (s: TextEncoderShape): boolean => s.arch === 'bert' || s.numClasses > 0;

/** Every state-dict entry, in transformers' order, with PyTorch's shapes. */
export function textStateShapes(s: TextEncoderShape): StateEntry[] {
  const k = textKeys(s);
  const d = s.hidden;
  const out: StateEntry[] = [param(k.word, [s.vocab, d]), param(k.position, [s.maxPositions, d])];
  if (k.tokenType) out.push(param(k.tokenType, [s.typeVocab, d]));
  out.push(...normEntries(k.embNorm, d));
  for (let i = 0; i < s.layers; i++) {
    const l = k.layer(i);
    out.push(
      ...linearEntries(l.q, d, d),
      ...linearEntries(l.k, d, d),
      ...linearEntries(l.v, d, d),
      ...linearEntries(l.o, d, d),
      ...normEntries(l.attnNorm, d),
      ...linearEntries(l.ffn1, s.intermediate, d),
      ...linearEntries(l.ffn2, d, s.intermediate),
      ...normEntries(l.outNorm, d),
    );
  }
  if (hasPool(s)) out.push(...linearEntries(k.pool.key, d, d));
  if (s.numClasses > 0) out.push(...linearEntries(k.classifier, s.numClasses, d));
  return out;
}

/**
 * transformers' `_init_weights` for a new model: linear weights and embeddings normal(0,
 * initializer_range) with the padding row of the word embeddings zero, biases 0, LayerNorm 1 and 0.
 */
export function textInitEntry(s: TextEncoderShape, rng: Rng): (e: StateEntry, n: number) => Float32Array {
  const word = textKeys(s).word;
  return (e, n) => {
    if (/(LayerNorm|layer_norm)\.weight$/.test(e.key)) return new Float32Array(n).fill(1);
    if (e.key.endsWith('.bias')) return new Float32Array(n);
    const out = Float32Array.from({ length: n }, () => rng.normal() * s.initStd);
    if (e.key === word && s.padId < s.vocab) out.fill(0, s.padId * s.hidden, (s.padId + 1) * s.hidden);
    return out;
  };
}

export function initTextState(s: TextEncoderShape, rng: Rng): Record<string, StTensor> {
  return initState(textStateShapes(s), textInitEntry(s, rng));
}

export interface TextEncoderModel extends StudentModel {
  shape: TextEncoderShape;
}

/** A BERT or DistilBERT with the given state dict (already checked against `textStateShapes(shape)`). */
export function buildTextEncoder(
  shape: TextEncoderShape,
  state: Record<string, StTensor>,
  opts: StudentOptions,
): TextEncoderModel {
  const vars = stateVariables(textStateShapes(shape), state, new Set());
  const w = (key: string): Tensor => vars.params.get(key)!;
  const lin = (x: Tensor, key: string): Tensor => linear(x, w(`${key}.weight`), w(`${key}.bias`));
  const norm = (x: Tensor, key: string): Tensor => layerNorm(x, w(`${key}.weight`), w(`${key}.bias`), shape.eps);
  const keys = textKeys(shape);
  const { hidden: d, heads, dropout: rates } = shape;
  const bert = shape.arch === 'bert';
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
      const [n, T] = x.shape as [number, number];
      const mask = tf.cast(tf.greater(x, -0.5), 'float32');
      // -1 (padding) → the pad id: x + (1 − mask)(pad + 1).
      const ids = tf.cast(tf.reshape(tf.add(x, tf.mul(tf.sub(1, mask), shape.padId + 1)), [-1]), 'int32');
      let h: Tensor = tf.add(
        tf.reshape(embed(w(keys.word) as Tensor2D, ids as tf.Tensor1D), [n, T, d]),
        tf.slice(w(keys.position), [0, 0], [T, d]),
      );
      if (keys.tokenType) h = tf.add(h, tf.slice(w(keys.tokenType), [0, 0], [1, d]));
      h = drop(norm(h, keys.embNorm), rates.hidden);
      const keyBias = tf.reshape(tf.mul(tf.sub(1, mask), MASKED_SCORE), [n, 1, 1, T]);
      for (let i = 0; i < shape.layers; i++) {
        const l = keys.layer(i);
        const ctx = attention(
          lin(h, l.q),
          lin(h, l.k),
          lin(h, l.v),
          { n, tokens: T, heads },
          {
            keyBias,
            dropProbs: (p) => drop(p, rates.attn),
          },
        );
        // BERT drops out the attention's output; DistilBERT does not.
        const a = lin(ctx, l.o);
        h = norm(tf.add(bert ? drop(a, rates.hidden) : a, h), l.attnNorm);
        const f = lin(gelu(lin(h, l.ffn1)), l.ffn2);
        h = norm(tf.add(drop(f, rates.hidden), h), l.outNorm);
      }
      const phi = tf.reshape<tf.Rank.R2>(tf.slice(h, [0, 0, 0], [n, 1, d]), [n, d]);
      if (shape.numClasses === 0) return { phi, logits: tf.zeros([n, 0]) };
      const pooled = denseT(phi, w(`${keys.pool.key}.weight`) as Tensor2D, w(`${keys.pool.key}.bias`));
      const act = keys.pool.act === 'tanh' ? tf.tanh(pooled) : tf.relu(pooled);
      const logits = denseT(
        drop(act, rates.classifier) as Tensor2D,
        w('classifier.weight') as Tensor2D,
        w('classifier.bias'),
      );
      return { phi, logits };
    },
    stateDict: vars.read,
    dispose: vars.dispose,
  };
}
