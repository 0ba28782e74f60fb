/**
 * The ResNet family (torchvision's and timm's resnet18…152, the same key names): its shape is the
 * stem width and input channels read from conv1.weight; φ is the pooled output of layer4.
 */
import { badInput } from '../../../../core/common/util/errors';
import { resnetGraph } from '../../export/resnet';
import {
  buildResNet,
  initResNetState,
  RESNET_ARCHS,
  resnetFeatures,
  resnetStateShapes,
  type ResNetShape,
} from '../resnet';
import { resnetActivations } from './activations';
import type { StudentFamily } from './family';
import { checkInputChannels, checkNumFeatures } from './timmConfig';

export const resnetFamily: StudentFamily<ResNetShape> = {
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
  init: initResNetState,
  build: (s, state, opts) => buildResNet(s, state, opts),
  onnx: resnetGraph,
  activations: resnetActivations,
};
