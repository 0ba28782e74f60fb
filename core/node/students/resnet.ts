/**
 * The ResNet family (torchvision's and timm's resnet18…152, the same key names) as the folder
 * checks see it: the architectures, the blocks' convolutions, the state dict's names and shapes,
 * and the family's shape read from conv1.weight (stem width, input channels); φ is the pooled
 * output of layer4. The model itself is sidecar/src/models/resnet.ts.
 */
import { badInput } from '../../common/util/errors';
import { resnetActivations } from './activations';
import type { ConvGeometry } from './conv';
import type { StateEntry as StudentStateEntry, StudentSpec } from './family';
import { checkInputChannels, checkNumFeatures } from './timmConfig';

export type BlockKind = 'basic' | 'bottleneck';

/** The architectures a `config.json` may name: block and blocks per stage (torchvision's table). */
export const RESNET_ARCHS: Readonly<
  Record<string, { block: BlockKind; layers: readonly [number, number, number, number] }>
> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
  resnet152: { block: 'bottleneck', layers: [3, 8, 36, 3] },
};

/** The shape of a ResNet: its architecture at a stem width (64 in the published models). */
export interface ResNetShape {
  arch: string;
  /** Output channels of conv1; stage i has width·2^i planes. */
  width: number;
  inChannels: number;
  numClasses: number;
}

export interface StateEntry extends StudentStateEntry {
  role:
    | 'conv'
    | 'bn.weight'
    | 'bn.bias'
    | 'bn.running_mean'
    | 'bn.running_var'
    | 'bn.num_batches_tracked'
    | 'fc.weight'
    | 'fc.bias';
}

const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };

export interface ConvSpec {
  name: string;
  cin: number;
  cout: number;
  g: ConvGeometry;
}

export interface BlockSpec {
  prefix: string;
  convs: ConvSpec[];
  downsample?: ConvSpec;
}

/** The convolutions of a ResNet in order: the stem, each block's convs and downsample, and φ's width. */
export function blocksOf(s: ResNetShape): { stem: ConvSpec; blocks: BlockSpec[]; features: number } {
  const { block, layers } = RESNET_ARCHS[s.arch];
  const exp = EXPANSION[block];
  const stem: ConvSpec = { name: 'conv1', cin: s.inChannels, cout: s.width, g: { kernel: 7, stride: 2, pad: 3 } };
  const blocks: BlockSpec[] = [];
  let inplanes = s.width;
  layers.forEach((count, stage) => {
    const planes = s.width * 2 ** stage;
    for (let j = 0; j < count; j++) {
      const stride = stage > 0 && j === 0 ? 2 : 1;
      const prefix = `layer${stage + 1}.${j}`;
      const convs: ConvSpec[] =
        block === 'basic'
          ? [
              { name: 'conv1', cin: inplanes, cout: planes, g: { kernel: 3, stride, pad: 1 } },
              { name: 'conv2', cin: planes, cout: planes, g: { kernel: 3, stride: 1, pad: 1 } },
            ]
          : [
              { name: 'conv1', cin: inplanes, cout: planes, g: { kernel: 1, stride: 1, pad: 0 } },
              { name: 'conv2', cin: planes, cout: planes, g: { kernel: 3, stride, pad: 1 } },
              { name: 'conv3', cin: planes, cout: planes * exp, g: { kernel: 1, stride: 1, pad: 0 } },
            ];
      const down =
        stride !== 1 || inplanes !== planes * exp
          ? { name: 'downsample.0', cin: inplanes, cout: planes * exp, g: { kernel: 1, stride, pad: 0 } }
          : undefined;
      blocks.push({ prefix, convs, ...(down ? { downsample: down } : {}) });
      inplanes = planes * exp;
    }
  });
  return { stem, blocks, features: inplanes };
}

/** Width of φ (the pooled output of layer4). */
export function resnetFeatures(s: Pick<ResNetShape, 'arch' | 'width'>): number {
  const { block } = RESNET_ARCHS[s.arch];
  return s.width * 8 * EXPANSION[block];
}

/** Every state-dict entry of the architecture, in torchvision's order, with PyTorch's shapes. */
export function resnetStateShapes(s: ResNetShape): StateEntry[] {
  const out: StateEntry[] = [];
  const conv = (key: string, c: ConvSpec): void => {
    out.push({ key: `${key}.weight`, shape: [c.cout, c.cin, c.g.kernel, c.g.kernel], role: 'conv', kind: 'param' });
  };
  const bn = (key: string, c: number): void => {
    out.push(
      { key: `${key}.weight`, shape: [c], role: 'bn.weight', kind: 'param' },
      { key: `${key}.bias`, shape: [c], role: 'bn.bias', kind: 'param' },
    );
    out.push(
      { key: `${key}.running_mean`, shape: [c], role: 'bn.running_mean', kind: 'buffer' },
      { key: `${key}.running_var`, shape: [c], role: 'bn.running_var', kind: 'buffer' },
    );
    out.push({ key: `${key}.num_batches_tracked`, shape: [], role: 'bn.num_batches_tracked', kind: 'counter' });
  };
  const { stem, blocks, features } = blocksOf(s);
  conv('conv1', stem);
  bn('bn1', stem.cout);
  for (const b of blocks) {
    b.convs.forEach((c, i) => {
      conv(`${b.prefix}.${c.name}`, c);
      bn(`${b.prefix}.bn${i + 1}`, c.cout);
    });
    if (b.downsample) {
      conv(`${b.prefix}.downsample.0`, b.downsample);
      bn(`${b.prefix}.downsample.1`, b.downsample.cout);
    }
  }
  out.push(
    { key: 'fc.weight', shape: [s.numClasses, features], role: 'fc.weight', kind: 'param' },
    { key: 'fc.bias', shape: [s.numClasses], role: 'fc.bias', kind: 'param' },
  );
  return out;
}

export const resnetSpec: StudentSpec<ResNetShape> = {
  name: 'resnet',
  configKey: 'architecture',
  archs: Object.keys(RESNET_ARCHS),
  timm: { globalPool: 'avg', classifier: 'fc', firstConv: 'conv1' },
  head: { weight: 'fc.weight', bias: 'fc.bias' },
  shapeOf(arch, _config, tensors, numClasses, files) {
    const conv1 = tensors['conv1.weight'];
    if (!conv1 || conv1.shape.length !== 4)
      throw badInput(
        `${conv1 ? `conv1.weight has shape [${conv1.shape.join(', ')}], expected [width, channels, 7, 7]` : 'no tensor conv1.weight'}: this is not a ${arch} state dict`,
        { file: files.weights, field: 'downstream.folder' },
      );
    const [width, inChannels] = conv1.shape as [number, number];
    return { arch, width, inChannels, numClasses };
  },
  checkConfig(s, config, files) {
    checkNumFeatures(config, resnetFeatures(s), `a ${s.arch} with conv1 of width ${s.width}`, files.config);
    const conv1 = [s.width, s.inChannels, 7, 7];
    checkInputChannels(
      config,
      s.inChannels,
      `conv1.weight takes ${s.inChannels} (shape [${conv1.join(', ')}])`,
      files.config,
    );
  },
  stateShapes: resnetStateShapes,
  features: resnetFeatures,
  input: (s) => ({ kind: 'image', channels: s.inChannels }),
  describe: (s) => `${s.arch} of width ${s.width}`,
  activations: (s, size) => resnetActivations(s, size),
};
