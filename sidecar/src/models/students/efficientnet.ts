/** The EfficientNet family: its folder checks (core/node/students/efficientnet.ts) and its model, initialisation and ONNX graph. */
import { effnetSpec, type EffNetShape } from '../../../../core/node/students/efficientnet';
import { effnetGraph } from '../../export/efficientnet';
import { buildEffNet, initEffNetState } from '../efficientnet';
import type { StudentFamily } from './family';

export const effnetFamily: StudentFamily<EffNetShape> = {
  ...effnetSpec,
  init: initEffNetState,
  build: buildEffNet,
  onnx: effnetGraph,
};
