/** The ViT/DeiT family: its folder checks (core/node/students/vit.ts) and its model, initialisation and ONNX graph. */
import { vitSpec, type ViTShape } from '../../../../core/node/students/vit';
import { vitGraph } from '../../export/vit';
import { buildViT, initViTState } from '../vit';
import type { StudentFamily } from './family';

export const vitFamily: StudentFamily<ViTShape> = { ...vitSpec, init: initViTState, build: buildViT, onnx: vitGraph };
