/**
 * The activations a student's forward pass makes, per example, counted from its shape (float32
 * elements): what the memory estimate (sidecar/src/memory/) multiplies by the batch. `train` is
 * every tensor a training forward creates, which tfjs's gradient tape keeps until the backward
 * pass ends; `eval` is what an evaluation forward holds at its peak (a ResNet frees each block's
 * intermediates as it goes, sidecar/src/models/resnet.ts; the token models keep the whole forward in one tidy).
 * The counts follow the code of sidecar/src/models/: a convolution, a linear layer, an add or a transpose is
 * one tensor of its output's size. An op with a hand-written gradient (tf.customGrad) runs its
 * forward in a tidy, so it leaves its output and what it saves for its gradient: a training
 * BatchNorm two (the centred input, the output; `centred` counts the first, which the wasm
 * backend's fused kernels never make), its evaluation form and the exact GELU one.
 * LayerNorm is plain tf ops: six (tf.moments' centred and squared inputs, then centred, divided,
 * scaled, shifted).
 */
import { convOut } from './conv';
import { blocksOf, type ResNetShape } from './resnet';
import type { ViTShape } from './vit';
import type { MixerShape } from './mixer';
import { effnetBlocks, type EffNetShape } from './efficientnet';
import type { TextEncoderShape } from './bert';

export interface ActivationCount {
  /** Elements a training forward creates for one example (all kept for the backward pass). */
  train: number;
  /** Elements an evaluation forward holds at its peak for one example. */
  eval: number;
  /** Elements of one example's share of the largest single activation tensor (a GPU buffer holds the batch's). */
  largest: number;
  /**
   * Elements of training BatchNorms' centred inputs (x − μ) within `train`: the ops make them,
   * the wasm backend's fused kernels do not (sidecar/src/models/batchNorm.ts).
   */
  centred?: number;
}

const LAYER_NORM = 6;
const GELU = 1;
const BN_TRAIN = 2;
const BN_EVAL = 1;

export function resnetActivations(s: ResNetShape, [h0, w0]: [number, number]): ActivationCount {
  const spec = blocksOf(s);
  let [h, w] = [convOut(h0, spec.stem.g), convOut(w0, spec.stem.g)];
  const stem = h * w * spec.stem.cout;
  // conv, BatchNorm, ReLU, then the 3x3 stride-2 max-pool.
  [h, w] = [convOut(h, { kernel: 3, stride: 2, pad: 1 }), convOut(w, { kernel: 3, stride: 2, pad: 1 })];
  const pooled = h * w * spec.stem.cout;
  let train = stem * (2 + BN_TRAIN) + pooled;
  let evalPeak = stem * (2 + BN_EVAL) + pooled;
  let largest = stem;
  let centred = stem;
  for (const b of spec.blocks) {
    const input = h * w * b.convs[0].cin;
    let bh = h;
    let bw = w;
    let blockTrain = 0;
    let blockEval = 0;
    b.convs.forEach((c, i) => {
      [bh, bw] = [convOut(bh, c.g), convOut(bw, c.g)];
      const out = bh * bw * c.cout;
      largest = Math.max(largest, out);
      const relu = i < b.convs.length - 1 ? 1 : 0;
      blockTrain += out * (1 + BN_TRAIN + relu);
      blockEval += out * (1 + BN_EVAL + relu);
      centred += out;
    });
    const out = bh * bw * b.convs[b.convs.length - 1].cout;
    if (b.downsample) {
      blockTrain += out * (1 + BN_TRAIN);
      blockEval += out * (1 + BN_EVAL);
      centred += out;
    }
    // The residual add and its ReLU.
    blockTrain += 2 * out;
    blockEval += 2 * out;
    train += blockTrain;
    evalPeak = Math.max(evalPeak, input + blockEval);
    [h, w] = [bh, bw];
  }
  return { train, eval: evalPeak, largest, centred };
}

export function vitActivations(s: ViTShape): ActivationCount {
  const patches = s.grid[0] * s.grid[1];
  const t = patches + 1;
  const d = s.embedDim;
  const pixels = patches * s.patch * s.patch * s.inChannels;
  // Patch rows (a transposed copy of the image), their embedding, the class token joined, + positions.
  const stem = pixels + patches * d + 2 * t * d;
  // LN, qkv, its split and per-head transposes, kᵀ, the attention's scores (product, scaled,
  // softmax), its output and transpose, the projection, the residual; LN, fc1, GELU, fc2, residual.
  const block = (2 * LAYER_NORM + 16) * t * d + 3 * s.heads * t * t + (1 + GELU) * t * s.mlpHidden;
  const train = stem + s.depth * block + LAYER_NORM * t * d;
  return { train, eval: train, largest: Math.max(pixels, 3 * t * d, s.heads * t * t, t * s.mlpHidden) };
}

export function mixerActivations(s: MixerShape): ActivationCount {
  const tokens = s.grid[0] * s.grid[1];
  const d = s.embedDim;
  const pixels = tokens * s.patch * s.patch * s.inChannels;
  const stem = pixels + tokens * d;
  // LN, transpose, the token MLP (fc1, GELU, fc2), transpose, residual; LN, the channel MLP, residual.
  const block = (2 * LAYER_NORM + 6) * tokens * d + (1 + GELU) * d * s.tokensDim + (1 + GELU) * tokens * s.channelsDim;
  const train = stem + s.depth * block + LAYER_NORM * tokens * d;
  return { train, eval: train, largest: Math.max(pixels, d * s.tokensDim, tokens * s.channelsDim) };
}

/**
 * EfficientNet (models/efficientnet.ts): a SiLU (hand-written gradient) leaves its output and
 * its sigmoid; a depthwise convolution and the squeeze-excite gate their outputs (what they save
 * is their input); the squeeze-excite's pooled vectors are per channel, not per pixel.
 */
export function effnetActivations(s: EffNetShape, [h0, w0]: [number, number]): ActivationCount {
  const SILU = 2;
  const stemG = { kernel: 3, stride: 2, pad: 1 };
  let [h, w] = [convOut(h0, stemG), convOut(w0, stemG)];
  const stem = h * w * s.stem;
  let train = stem * (1 + BN_TRAIN + SILU);
  let evalPeak = stem * (1 + BN_EVAL + SILU);
  let largest = stem;
  for (const b of effnetBlocks(s)) {
    const input = h * w * b.cin;
    const [oh, ow] = [convOut(h, b.dw), convOut(w, b.dw)];
    const wide = oh * ow * b.mid;
    const out = oh * ow * b.cout;
    // The squeeze-excite: pooled, reduced, its SiLU, expanded, the sigmoid gate.
    const se = b.mid * 3 + b.rd * (1 + SILU);
    // The expansion (inverted residual only): 1x1 convolution, BatchNorm, SiLU at the input's size.
    const expand = b.kind === 'ir' ? h * w * b.mid : 0;
    // Depthwise convolution, BatchNorm, SiLU, the gate; the projection and its BatchNorm; the residual.
    const tail = (bn: number): number =>
      wide * (1 + bn + SILU + 1) + se + out * (1 + bn) + (b.skip ? out * (1 + (b.dropPath > 0 ? 1 : 0)) : 0);
    train += expand * (1 + BN_TRAIN + SILU) + tail(BN_TRAIN);
    evalPeak = Math.max(evalPeak, input + expand * (1 + BN_EVAL + SILU) + tail(BN_EVAL));
    largest = Math.max(largest, expand, wide);
    [h, w] = [oh, ow];
  }
  // conv_head, bn2, SiLU, then the pool.
  const head = h * w * s.head;
  train += head * (1 + BN_TRAIN + SILU) + s.head;
  evalPeak = Math.max(evalPeak, h * w * s.stages[s.stages.length - 1].width + head * (1 + BN_EVAL + SILU) + s.head);
  largest = Math.max(largest, head);
  // No `centred`: measured, EfficientNet's heap is what two per BatchNorm give even with the fused
  // kernels (effnet-b0 at 64², batch 32: 25% under without them); its depthwise convolutions'
  // temporaries, not counted apart, take that place.
  return { train, eval: evalPeak, largest };
}

/**
 * BERT and DistilBERT (models/bert.ts) on `tokens` token ids per example: the embeddings (lookup,
 * positions, token types, LayerNorm), then per layer the q, k and v projections with their
 * per-head transposes, kᵀ, the scores (product, scaled, masked, softmax), the context and its
 * transpose, the output projection, the residual and LayerNorm; the feed-forward (wide product,
 * GELU, narrow product), residual and LayerNorm. Dropout in training adds a mask and a product
 * where its rate is not 0.
 */
export function textActivations(s: TextEncoderShape, tokens: number): ActivationCount {
  const t = tokens;
  const d = s.hidden;
  const scores = s.heads * t * t;
  const drop = (rate: number, n: number): number => (rate > 0 ? 2 * n : 0);
  const embed = (3 + LAYER_NORM) * t * d;
  const layer = (o: { dropout: boolean }): number =>
    (3 + 3 + 1 + 2 + 1 + 1 + LAYER_NORM + 1 + 1 + LAYER_NORM) * t * d +
    4 * scores +
    (1 + GELU) * t * s.intermediate +
    (o.dropout ? drop(s.dropout.attn, scores) + 2 * drop(s.dropout.hidden, t * d) : 0);
  const train = embed + drop(s.dropout.hidden, t * d) + s.layers * layer({ dropout: true });
  return {
    train,
    eval: embed + s.layers * layer({ dropout: false }),
    largest: Math.max(t * d, scores, t * s.intermediate),
  };
}
