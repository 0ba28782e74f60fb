/** The MLP-Mixer family: its folder checks (core/node/students/mixer.ts) and its model, initialisation and ONNX graph. */
import { mixerSpec, type MixerShape } from '../../../../core/node/students/mixer';
import { mixerGraph } from '../../export/mixer';
import { buildMixer, initMixerState } from '../mixer';
import type { StudentFamily } from './family';

export const mixerFamily: StudentFamily<MixerShape> = {
  ...mixerSpec,
  init: initMixerState,
  build: buildMixer,
  onnx: mixerGraph,
};
