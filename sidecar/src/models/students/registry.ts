/**
 * The student families the engine builds: each family's folder checks (core/node/students/
 * registry.ts, in the same order) with its model, initialisation and ONNX graph.
 */
import { bertFamily, distilbertFamily } from './bert';
import { effnetFamily } from './efficientnet';
import type { StudentFamily } from './family';
import { mixerFamily } from './mixer';
import { resnetFamily } from './resnet';
import { vitFamily } from './vit';

export const STUDENT_FAMILIES: readonly StudentFamily[] = [
  resnetFamily,
  vitFamily,
  mixerFamily,
  effnetFamily,
  bertFamily,
  distilbertFamily,
];
