/**
 * ResNets (He et al. 2016) as torchvision and timm lay them out: the same modules, the same
 * state-dict key names (conv1, bn1, layer1.0.conv1, …, layer1.0.downsample.0/1, fc), so that a
 * folder published on a hub loads here and a trained student loads back there.
 *
 * The forward runs in NHWC; kernels are HWIO here and OIHW in state dicts (converted on load and
 * on save). Convolutions and BatchNorm use the hand-written gradients of layers.ts and
 * batchNorm.ts (forward convolutions and products only). φ is the globally average-pooled output
 * of layer4: what timm feeds its classifier (`forward_head(pre_logits=True)`).
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import type { Rng } from '../util/rng';
import { tf, type Tensor, type Tensor2D, type Tensor4D, type Variable } from '../runtime/tf';
import { batchNorm, type BatchNorm } from './batchNorm';
import type { ForwardMode, ModelOutput } from './downstream';
import { stateVariables } from './stateDict';
import type { StudentModel, StudentOptions } from './students/family';
import { conv2d, denseT, relu, type ConvGeometry } from './layers';
import { blocksOf, resnetFeatures, resnetStateShapes, type ResNetShape } from '../../../core/node/students/resnet';

/**
 * A ResNet's state dict initialised as torchvision does: convolutions He-normal with fan-out
 * (std √(2 / (out·k·k))), BatchNorm γ = 1, β = 0 and running statistics 0 and 1, the head as
 * nn.Linear (uniform ±1/√fan-in). What `weights: random` starts from, and what a built-in student
 * is pre-trained from.
 */
export function initResNetState(shape: ResNetShape, rng: Rng): Record<string, StTensor> {
  const state: Record<string, StTensor> = {};
  for (const e of resnetStateShapes(shape)) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (e.role === 'conv') {
      const std = Math.sqrt(2 / (e.shape[0] * e.shape[2] * e.shape[3]));
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    } else if (e.role === 'bn.weight' || e.role === 'bn.running_var') data.fill(1);
    else if (e.role === 'fc.weight' || e.role === 'fc.bias') {
      const bound = 1 / Math.sqrt(resnetFeatures(shape));
      for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * bound;
    }
    state[e.key] = { shape: e.shape, data, ...(e.role === 'bn.num_batches_tracked' ? { dtype: 'I64' as const } : {}) };
  }
  return state;
}

// Kernels are converted where every student's state dict is (stateDict.ts); the tests import them from here too.
export { hwioToOihw, oihwToHwio } from './stateDict';

export interface ResNetModel extends StudentModel {
  shape: ResNetShape;
}

interface Conv {
  w: Variable;
  g: ConvGeometry;
}

interface Block {
  convs: { conv: Conv; bn: BatchNorm }[];
  downsample?: { conv: Conv; bn: BatchNorm };
}

/**
 * A ResNet with the given state dict (PyTorch layout, already checked against
 * `resnetStateShapes(shape)`; `num_batches_tracked` may be absent, read as 0).
 */
export function buildResNet(shape: ResNetShape, state: Record<string, StTensor>, opts: StudentOptions): ResNetModel {
  const entries = resnetStateShapes(shape);
  const vars = stateVariables(entries, state, new Set(entries.filter((e) => e.role === 'conv').map((e) => e.key)));
  const { params, buffers } = vars;
  const conv = (key: string, g: ConvGeometry): Conv => ({ w: params.get(`${key}.weight`)!, g });
  const bn = (key: string): BatchNorm => ({
    weight: params.get(`${key}.weight`)!,
    bias: params.get(`${key}.bias`)!,
    runningMean: buffers.get(`${key}.running_mean`)!,
    runningVar: buffers.get(`${key}.running_var`)!,
    numBatchesTracked: buffers.get(`${key}.num_batches_tracked`)!,
  });
  const spec = blocksOf(shape);
  const stem = conv('conv1', spec.stem.g);
  const bn1 = bn('bn1');
  const blocks: Block[] = spec.blocks.map((b) => ({
    convs: b.convs.map((c, i) => ({ conv: conv(`${b.prefix}.${c.name}`, c.g), bn: bn(`${b.prefix}.bn${i + 1}`) })),
    ...(b.downsample
      ? { downsample: { conv: conv(`${b.prefix}.downsample.0`, b.downsample.g), bn: bn(`${b.prefix}.downsample.1`) } }
      : {}),
  }));
  const fcW = params.get('fc.weight')!;
  const fcB = params.get('fc.bias')!;

  return {
    kind: 'pretrained',
    featureDim: spec.features,
    params,
    buffers,
    shape,
    forward(x: Tensor, mode: ForwardMode = 'eval'): ModelOutput {
      const train = mode === 'train' && opts.batchnorm === 'train';
      // Evaluation (never under a gradient tape) frees each block's intermediates as it goes, so
      // that memory holds one block's activations, not the whole network's.
      const step =
        mode === 'eval' ? <T extends Tensor>(f: () => T): T => tf.tidy(f) : <T extends Tensor>(f: () => T): T => f();
      let h = step(() => {
        const y = relu(batchNorm(conv2d(x as Tensor4D, stem.w as Tensor4D, stem.g, true), bn1, train));
        // After a ReLU every value is ≥ 0, so ignoring the padding (tfjs) equals PyTorch's −∞ padding.
        return tf.maxPool(y, 3, 2, 1);
      });
      for (const b of blocks) {
        const input = h;
        h = step(() => {
          let out = input;
          b.convs.forEach((c, i) => {
            out = batchNorm(conv2d(out, c.conv.w as Tensor4D, c.conv.g), c.bn, train);
            if (i < b.convs.length - 1) out = relu(out);
          });
          const identity = b.downsample
            ? batchNorm(conv2d(input, b.downsample.conv.w as Tensor4D, b.downsample.conv.g), b.downsample.bn, train)
            : input;
          return relu(tf.add<Tensor4D>(out, identity));
        });
        if (mode === 'eval') input.dispose();
      }
      const phi = tf.mean<Tensor2D>(h, [1, 2]);
      return { phi, logits: denseT(phi, fcW as Tensor2D, fcB) };
    },
    stateDict: vars.read,
    dispose() {
      for (const v of params.values()) v.dispose();
      for (const v of buffers.values()) v.dispose();
    },
  };
}
