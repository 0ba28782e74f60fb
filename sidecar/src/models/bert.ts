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
import { initState, stateVariables } from './stateDict';
import type { StateEntry, StudentModel, StudentOptions } from './students/family';
import { textKeys, textStateShapes, type TextEncoderShape } from '../../../core/node/students/bert';
import { attention, dropout, embed, gelu, layerNorm, linear } from './tokenLayers';

/** torch.finfo(torch.float32).min: what transformers adds to (BERT) or puts in (DistilBERT) masked scores. */
export const MASKED_SCORE = -3.4028234663852886e38;

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
