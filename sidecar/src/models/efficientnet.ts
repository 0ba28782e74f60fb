/**
 * EfficientNet-B0 (Tan & Le 2019) as timm builds `efficientnet_b0`: the same modules and
 * state-dict key names (conv_stem, bn1, blocks.S.B.*, conv_head, bn2, classifier), so that a
 * folder published on the hub loads here and a trained student loads back into timm.
 *
 * Stage S, block B is timm's DepthwiseSeparableConv in the first stage (conv_dw, bn1, SiLU, se,
 * conv_pw, bn2) and an InvertedResidual after (conv_pw, bn1, SiLU, conv_dw, bn2, SiLU, se,
 * conv_pwl, bn3); squeeze-excite is mean → conv_reduce → SiLU → conv_expand → sigmoid gate with
 * timm's reduced width (round(mid · 0.25 / expansion)); the residual is taken when the stride is
 * 1 and the widths agree. Padding is PyTorch's symmetric (k − 1)/2 (timm's plain variant; the
 * `tf_` variants' asymmetric "same" padding is not read). The widths of the stem, of each stage
 * and of the head, and each stage's number of blocks, come from the weights (timm's width and
 * depth multipliers give them); kernels, strides and expansions are B0's.
 *
 * φ is timm's pre-logits: conv_head, bn2, SiLU, global average pool. Dropout before the
 * classifier (`drop_rate`) and stochastic depth (`drop_path_rate`, rising linearly over the
 * blocks as timm's builder does) act in training only, with seeded masks.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { Rng } from '../util/rng';
import { tf, type Tensor, type Tensor2D, type Tensor4D, type Variable } from '../runtime/tf';
import { batchNorm, type BatchNorm } from './batchNorm';
import { channelGate, depthwiseConv2d, globalPool, silu } from './depthwise';
import type { ForwardMode, ModelOutput } from './downstream';
import { conv2d, denseT, type ConvGeometry } from './layers';
import { stateVariables } from './stateDict';
import type { StudentModel, StudentOptions } from './students/family';
import { effnetBlocks, effnetStateShapes, type EffNetShape } from '../../../core/node/students/efficientnet';
import { dropout } from './tokenLayers';

/**
 * A state dict initialised as timm does (`_init_weight_goog`): convolutions N(0, 2/fan-out) with
 * fan-out k²·out/groups, biases 0, BatchNorm γ = 1, β = 0, running statistics 0 and 1, the
 * classifier uniform ±1/√classes.
 */
export function initEffNetState(s: EffNetShape, rng: Rng): Record<string, StTensor> {
  const state: Record<string, StTensor> = {};
  for (const e of effnetStateShapes(s)) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const last = e.key.slice(e.key.lastIndexOf('.') + 1);
    if (e.shape.length === 4) {
      const [o, , kh, kw] = e.shape as [number, number, number, number];
      const std = Math.sqrt(2 / (kh * kw * (e.role === 'dw' ? 1 : o)));
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    } else if (e.role === 'bn' && (last === 'weight' || last === 'running_var')) data.fill(1);
    else if (e.key === 'classifier.weight') {
      const bound = 1 / Math.sqrt(s.numClasses);
      for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * bound;
    }
    state[e.key] = { shape: e.shape, data, ...(e.kind === 'counter' ? { dtype: 'I64' as const } : {}) };
  }
  return state;
}

export interface EffNetModel extends StudentModel {
  shape: EffNetShape;
}

/** A 1×1 convolution of PyTorch's [out, in, 1, 1] with a bias, on [N, in] (the squeeze-excite's). */
const seConv = (x: Tensor2D, w: Tensor, b: Tensor): Tensor2D =>
  denseT(x, tf.reshape(w, [w.shape[0], w.shape[1] as number]), b);

/** An EfficientNet with the given state dict (PyTorch layout, already checked against `effnetStateShapes`). */
export function buildEffNet(shape: EffNetShape, state: Record<string, StTensor>, opts: StudentOptions): EffNetModel {
  const entries = effnetStateShapes(shape);
  // Convolutions and depthwise kernels become HWIO variables ([k, k, 1, C] for a depthwise one:
  // the same bytes as tfjs's [k, k, C, 1], reshaped where it is used).
  const kernels = new Set(entries.filter((e) => e.role === 'conv' || e.role === 'dw').map((e) => e.key));
  const vars = stateVariables(entries, state, kernels);
  const { params, buffers } = vars;
  const p = (key: string): Variable => params.get(key)!;
  const bn = (key: string): BatchNorm => ({
    weight: p(`${key}.weight`),
    bias: p(`${key}.bias`),
    runningMean: buffers.get(`${key}.running_mean`)!,
    runningVar: buffers.get(`${key}.running_var`)!,
    numBatchesTracked: buffers.get(`${key}.num_batches_tracked`)!,
  });
  const blocks = effnetBlocks(shape);
  const rng = new Rng(opts.seed);
  const pw = (x: Tensor4D, key: string): Tensor4D =>
    conv2d(x, p(`${key}.weight`) as Tensor4D, { kernel: 1, stride: 1, pad: 0 });
  const dw = (x: Tensor4D, key: string, g: ConvGeometry): Tensor4D => {
    const w = p(`${key}.weight`);
    return depthwiseConv2d(x, tf.reshape(w, [g.kernel, g.kernel, w.shape[3]!, 1]), g);
  };

  return {
    kind: 'pretrained',
    featureDim: shape.head,
    params,
    buffers,
    shape,
    forward(x: Tensor, mode: ForwardMode = 'eval'): ModelOutput {
      const train = mode === 'train';
      const bnTrain = train && opts.batchnorm === 'train';
      const norm = (t: Tensor4D, key: string): Tensor4D => batchNorm(t, bn(key), bnTrain);
      // Evaluation frees each block's intermediates as it goes (never under a gradient tape).
      const step = <T extends Tensor>(f: () => T): T => (train ? f() : tf.tidy(f));
      const squeezeExcite = (t: Tensor4D, key: string): Tensor4D => {
        const r = silu(seConv(globalPool(t), p(`${key}.conv_reduce.weight`), p(`${key}.conv_reduce.bias`)));
        return channelGate(t, tf.sigmoid(seConv(r, p(`${key}.conv_expand.weight`), p(`${key}.conv_expand.bias`))));
      };
      const stem = p('conv_stem.weight') as Tensor4D;
      let h = step(() => silu(norm(conv2d(x as Tensor4D, stem, { kernel: 3, stride: 2, pad: 1 }, true), 'bn1')));
      for (const b of blocks) {
        const input = h;
        h = step(() => {
          const q = b.prefix;
          let y: Tensor4D;
          if (b.kind === 'ds') {
            y = silu(norm(dw(input, `${q}.conv_dw`, b.dw), `${q}.bn1`));
            y = norm(pw(squeezeExcite(y, `${q}.se`), `${q}.conv_pw`), `${q}.bn2`);
          } else {
            y = silu(norm(pw(input, `${q}.conv_pw`), `${q}.bn1`));
            y = silu(norm(dw(y, `${q}.conv_dw`, b.dw), `${q}.bn2`));
            y = norm(pw(squeezeExcite(y, `${q}.se`), `${q}.conv_pwl`), `${q}.bn3`);
          }
          if (!b.skip) return y;
          if (train && b.dropPath > 0) {
            // timm's drop_path: per example, kept with probability 1 − rate and scaled by its inverse.
            const keep = 1 - b.dropPath;
            const mask = Float32Array.from({ length: y.shape[0] }, () => (rng.next() < keep ? 1 / keep : 0));
            y = tf.mul(y, tf.tensor4d(mask, [y.shape[0], 1, 1, 1]));
          }
          return tf.add<Tensor4D>(y, input);
        });
        if (!train) input.dispose();
      }
      const phi = step(() => {
        const top = silu(norm(pw(h, 'conv_head'), 'bn2'));
        return globalPool(top);
      });
      if (!train) h.dispose();
      const dropped = dropout(phi, shape.dropRate, train, rng) as Tensor2D;
      return { phi, logits: denseT(dropped, p('classifier.weight') as Tensor2D, p('classifier.bias')) };
    },
    stateDict: vars.read,
    dispose: vars.dispose,
  };
}
