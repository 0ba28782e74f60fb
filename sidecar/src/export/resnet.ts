/**
 * The ONNX graph of a ResNet student (torchvision's layout; export/student.ts writes the file),
 * from its state dict as the run saved it (checkpoints/<method>-seed-<seed>/model.safetensors).
 * Inputs keep the engine's layout, as for the MLP and CNN: `input` is [N, H, W, C], the images
 * prepared as the student's `pretrained_cfg` says (resized, scaled, normalised by mean and std; the
 * model file's metadata repeats those settings); outputs are `logits` and `features` (φ, the pooled
 * output of layer4, the head's input).
 *
 * PyTorch's weights are already ONNX's layout (OIHW convolutions, [out, in] linear), so they are
 * stored as they are, each BatchNorm folded into the convolution before it with its running
 * statistics (inference, as the engine evaluates).
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { blocksOf, resnetStateShapes, type ConvSpec, type ResNetShape } from '../../../core/node/students/resnet';
import { foldBatchNorm } from './foldBatchNorm';
import { attr, OnnxGraph } from './graph';
import { stateTensor as tensor } from './stateTensor';

export function resnetGraph(state: Record<string, StTensor>, shape: ResNetShape, inputShape: number[]): OnnxGraph {
  const want = new Map(resnetStateShapes(shape).map((e) => [e.key, e.shape]));
  const init = (key: string): string => g.initializer(key, tensor(state, key, want.get(key)!), want.get(key)!);
  const g = new OnnxGraph(`aft-${shape.arch}`);
  // Each convolution with the BatchNorm after it folded in (inference, as the engine evaluates).
  const convBn = (x: string, convKey: string, bnKey: string, c: ConvSpec): string => {
    const wShape = want.get(`${convKey}.weight`)!;
    const { weight: folded, bias } = foldBatchNorm(state, convKey, bnKey, wShape);
    return g.node(
      'Conv',
      [x, g.initializer(`${convKey}.weight`, folded, wShape), g.initializer(`${convKey}.bias`, bias, [c.cout])],
      {
        kernel_shape: attr.ints([c.g.kernel, c.g.kernel]),
        strides: attr.ints([c.g.stride, c.g.stride]),
        pads: attr.ints([c.g.pad, c.g.pad, c.g.pad, c.g.pad]),
      },
    );
  };
  const plan = blocksOf(shape);
  let x = g.node('Transpose', [g.input('input', ['N', ...inputShape])], { perm: attr.ints([0, 3, 1, 2]) });
  x = g.node('Relu', [convBn(x, 'conv1', 'bn1', plan.stem)]);
  // PyTorch pads max pooling with −∞, as ONNX's MaxPool does.
  x = g.node('MaxPool', [x], {
    kernel_shape: attr.ints([3, 3]),
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, 1, 1]),
  });
  for (const b of plan.blocks) {
    const input = x;
    let out = input;
    b.convs.forEach((c, i) => {
      out = convBn(out, `${b.prefix}.${c.name}`, `${b.prefix}.bn${i + 1}`, c);
      if (i < b.convs.length - 1) out = g.node('Relu', [out]);
    });
    const identity = b.downsample
      ? convBn(input, `${b.prefix}.downsample.0`, `${b.prefix}.downsample.1`, b.downsample)
      : input;
    x = g.node('Relu', [g.node('Add', [out, identity])]);
  }
  const phi = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: attr.int(1) }, 'features');
  g.node('Gemm', [phi, init('fc.weight'), init('fc.bias')], { transB: attr.int(1) }, 'logits');
  g.output('logits', ['N', shape.numClasses]);
  g.output('features', ['N', plan.features]);
  return g;
}
