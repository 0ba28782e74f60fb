/**
 * The ONNX graph of an EfficientNet student (timm's layout; export/student.ts writes the file).
 * `input` is [N, H, W, C] as for every student; outputs `logits` and `features` (φ: conv_head,
 * bn2, SiLU, global average pool). Every BatchNorm is folded into the convolution before it
 * (depthwise ones are Conv with `group` = channels); SiLU is x·Sigmoid(x); squeeze-excite is
 * GlobalAveragePool, two 1×1 Conv with their biases, Sigmoid and a broadcast Mul.
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { effnetBlocks, effnetStateShapes, type EffNetShape } from '../../../core/node/students/efficientnet';
import type { ConvGeometry } from '../models/layers';
import { foldBatchNorm } from './foldBatchNorm';
import { attr, OnnxGraph } from './graph';
import { stateTensor as tensor } from './stateTensor';

export function effnetGraph(state: Record<string, StTensor>, s: EffNetShape, inputShape: number[]): OnnxGraph {
  const want = new Map(effnetStateShapes(s).map((e) => [e.key, e.shape]));
  const g = new OnnxGraph(`aft-${s.arch}`);
  const init = (key: string): string => g.initializer(key, tensor(state, key, want.get(key)!), want.get(key)!);
  const convBn = (x: string, convKey: string, bnKey: string, geo: ConvGeometry, group = 1): string => {
    const wShape = want.get(`${convKey}.weight`)!;
    const { weight, bias } = foldBatchNorm(state, convKey, bnKey, wShape);
    return g.node(
      'Conv',
      [x, g.initializer(`${convKey}.weight`, weight, wShape), g.initializer(`${convKey}.bias`, bias, [wShape[0]])],
      {
        kernel_shape: attr.ints([geo.kernel, geo.kernel]),
        strides: attr.ints([geo.stride, geo.stride]),
        pads: attr.ints([geo.pad, geo.pad, geo.pad, geo.pad]),
        group: attr.int(group),
      },
    );
  };
  const pointwise = { kernel: 1, stride: 1, pad: 0 };
  const silu = (x: string): string => g.node('Mul', [x, g.node('Sigmoid', [x])]);
  const squeezeExcite = (x: string, key: string): string => {
    const conv = (t: string, name: string): string =>
      g.node('Conv', [t, init(`${key}.${name}.weight`), init(`${key}.${name}.bias`)], {
        kernel_shape: attr.ints([1, 1]),
      });
    const gate = g.node('Sigmoid', [conv(silu(conv(g.node('GlobalAveragePool', [x]), 'conv_reduce')), 'conv_expand')]);
    return g.node('Mul', [x, gate]);
  };

  let x = g.node('Transpose', [g.input('input', ['N', ...inputShape])], { perm: attr.ints([0, 3, 1, 2]) });
  x = silu(convBn(x, 'conv_stem', 'bn1', { kernel: 3, stride: 2, pad: 1 }));
  for (const b of effnetBlocks(s)) {
    const p = b.prefix;
    let y: string;
    if (b.kind === 'ds') {
      y = silu(convBn(x, `${p}.conv_dw`, `${p}.bn1`, b.dw, b.mid));
      y = convBn(squeezeExcite(y, `${p}.se`), `${p}.conv_pw`, `${p}.bn2`, pointwise);
    } else {
      y = silu(convBn(x, `${p}.conv_pw`, `${p}.bn1`, pointwise));
      y = silu(convBn(y, `${p}.conv_dw`, `${p}.bn2`, b.dw, b.mid));
      y = convBn(squeezeExcite(y, `${p}.se`), `${p}.conv_pwl`, `${p}.bn3`, pointwise);
    }
    x = b.skip ? g.node('Add', [y, x]) : y;
  }
  x = silu(convBn(x, 'conv_head', 'bn2', pointwise));
  const phi = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: attr.int(1) }, 'features');
  g.node('Gemm', [phi, init('classifier.weight'), init('classifier.bias')], { transB: attr.int(1) }, 'logits');
  g.output('logits', ['N', s.numClasses]);
  g.output('features', ['N', s.head]);
  return g;
}
