/**
 * A small Transformer encoder for text: token + learned position embeddings, pre-LayerNorm
 * blocks of multi-head self-attention and a ReLU MLP (4x width), a final LayerNorm, and a mean
 * over the non-padding tokens; then the experiment's hidden dense layers, whose output is φ, and
 * the linear head. Inputs are token ids as floats, -1 where a sequence is padded.
 *
 * Every product goes through `dense` or `bmm`, whose gradients are plain products of explicitly
 * transposed operands (tfjs's transposed-operand matMul is ~10x slower on wasm), and the
 * embedding gradient is a scatter-add (wasm has no UnsortedSegmentSum for gather's gradient).
 */
import type { DownstreamSpec } from '../../../core/node/experiment/schema';
import { tf, type Tensor, type Tensor2D, type Variable } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import { Rng } from '../util/rng';
import { dense, glorot, heUniform, variable } from './layers';
import { attention, embed, layerNorm } from './tokenLayers';
import type { DownstreamModel, Trunk } from './downstream';
import { trunkModel } from './trunks';

export function createTransformer(
  spec: DownstreamSpec,
  inputShape: number[],
  numClasses: number,
  seed: number,
  vocabSize: number | undefined,
): DownstreamModel {
  const rng = new Rng(seed);
  const params = new Map<string, Variable>();
  const trunk = textTrunk(spec, inputShape, vocabSize, rng, params, '', 'downstream');
  return trunkModel('transformer', trunk, params, rng, numClasses);
}

/**
 * The encoder up to φ: embeddings, blocks, final LayerNorm, masked mean, then the ReLU dense
 * layers (`hidden`; the last one without its ReLU when `linearOut`). Parameters go into `params`
 * under `prefix`; `field` is where the spec is.
 */
export function textTrunk(
  spec: { layers: number; width: number; heads: number; hidden: number[] },
  inputShape: number[],
  vocabSize: number | undefined,
  rng: Rng,
  params: Map<string, Variable>,
  prefix: string,
  field: string,
  linearOut = false,
): Trunk {
  if (inputShape.length !== 1 || vocabSize === undefined) {
    throw badInput(
      `the transformer needs token ids [max_length] from a text dataset; this dataset's inputs have shape [${inputShape.join(', ')}]`,
      { file: '<experiment>', field: `${field}.model` },
    );
  }
  const L = inputShape[0];
  const d = spec.width;
  const heads = spec.heads;
  if (d % heads)
    throw badInput(`${heads} heads do not divide the width ${d}`, { file: '<experiment>', field: `${field}.heads` });
  const add = (name: string, values: Float32Array, shape: number[]): Variable => {
    const v = variable(values, shape, prefix + name);
    params.set(prefix + name, v);
    return v;
  };
  const normal = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * std);
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const tokens = add('embed.tokens', normal(vocabSize * d, 0.02), [vocabSize, d]);
  const positions = add('embed.positions', normal(L * d, 0.02), [L, d]);
  const blocks = Array.from({ length: spec.layers }, (_, i) => {
    const p = `block${i}`;
    return {
      ln1g: add(`${p}.ln1.g`, ones(d), [d]),
      ln1b: add(`${p}.ln1.b`, new Float32Array(d), [d]),
      qkvW: add(`${p}.attn.qkv.w`, glorot(rng, d, 3 * d, [d, 3 * d]), [d, 3 * d]),
      qkvB: add(`${p}.attn.qkv.b`, new Float32Array(3 * d), [3 * d]),
      outW: add(`${p}.attn.out.w`, glorot(rng, d, d, [d, d]), [d, d]),
      outB: add(`${p}.attn.out.b`, new Float32Array(d), [d]),
      ln2g: add(`${p}.ln2.g`, ones(d), [d]),
      ln2b: add(`${p}.ln2.b`, new Float32Array(d), [d]),
      ff1W: add(`${p}.ff1.w`, heUniform(rng, d, [d, 4 * d]), [d, 4 * d]),
      ff1B: add(`${p}.ff1.b`, new Float32Array(4 * d), [4 * d]),
      ff2W: add(`${p}.ff2.w`, glorot(rng, 4 * d, d, [4 * d, d]), [4 * d, d]),
      ff2B: add(`${p}.ff2.b`, new Float32Array(d), [d]),
    };
  });
  const lnG = add('final.ln.g', ones(d), [d]);
  const lnB = add('final.ln.b', new Float32Array(d), [d]);
  const hidden: { w: Variable; b: Variable }[] = [];
  let width = d;
  spec.hidden.forEach((out, i) => {
    hidden.push({
      w: add(`fc${i}.w`, heUniform(rng, width, [width, out]), [width, out]),
      b: add(`fc${i}.b`, new Float32Array(out), [out]),
    });
    width = out;
  });

  return {
    featureDim: width,
    features(x: Tensor): Tensor2D {
      const B = x.shape[0];
      const mask = tf.cast(tf.greater(x, -0.5), 'float32'); // [B, L]
      const ids = tf.cast(tf.maximum<tf.Tensor1D>(tf.reshape(x, [-1]), 0), 'int32');
      let h: Tensor = tf.add(tf.reshape(embed(tokens as Tensor2D, ids), [B, L, d]), positions);
      // Padding keys get a large negative score so no query attends to them.
      const keyBias = tf.reshape(tf.mul(tf.sub(1, mask), -1e9), [B, 1, 1, L]);
      const flat = (t: Tensor): Tensor2D => tf.reshape(t, [B * L, -1]);
      for (const blk of blocks) {
        const qkv = dense(flat(layerNorm(h, blk.ln1g, blk.ln1b)), blk.qkvW, blk.qkvB);
        const [q, k, v] = tf.split(qkv, 3, 1) as [Tensor, Tensor, Tensor];
        const o = attention(q, k, v, { n: B, tokens: L, heads }, { keyBias });
        h = tf.add(h, tf.reshape(dense(flat(o), blk.outW as Tensor2D, blk.outB), [B, L, d]));
        const f = dense(
          tf.relu(dense(flat(layerNorm(h, blk.ln2g, blk.ln2b)), blk.ff1W as Tensor2D, blk.ff1B)),
          blk.ff2W,
          blk.ff2B,
        );
        h = tf.add(h, tf.reshape(f, [B, L, d]));
      }
      h = layerNorm(h, lnG, lnB);
      const m3 = tf.expandDims(mask, 2);
      let phi = tf.div<Tensor2D>(tf.sum(tf.mul(h, m3), 1), tf.maximum(tf.sum(m3, 1), 1));
      hidden.forEach((l, i) => {
        const z = dense(phi, l.w, l.b);
        phi = linearOut && i === hidden.length - 1 ? z : tf.relu(z);
      });
      return phi;
    },
  };
}
