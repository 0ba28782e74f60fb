/** The ResNet family: its folder checks (core/node/students/resnet.ts) and its model, initialisation and ONNX graph. */
import { resnetSpec, type ResNetShape } from '../../../../core/node/students/resnet';
import { resnetGraph } from '../../export/resnet';
import { buildResNet, initResNetState } from '../resnet';
import type { StudentFamily } from './family';

export const resnetFamily: StudentFamily<ResNetShape> = {
  ...resnetSpec,
  init: initResNetState,
  build: (s, state, opts) => buildResNet(s, state, opts),
  onnx: resnetGraph,
};
