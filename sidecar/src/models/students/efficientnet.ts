/**
 * The EfficientNet family: timm's efficientnet_b0 (plain PyTorch padding; the `tf_` variants are
 * not read). The widths of the stem, stages and head and each stage's number of blocks come from
 * the weights (what timm's width and depth multipliers give); every other tensor's shape follows
 * from them and is checked; config.json's num_features and input channels must agree.
 */
import { badInput } from '../../../../core/common/util/errors';
import { effnetGraph } from '../../export/efficientnet';
import { buildEffNet, EFFNET_B0, effnetStateShapes, initEffNetState, type EffNetShape } from '../efficientnet';
import { effnetActivations } from './activations';
import type { StudentFamily } from './family';
import { checkInputChannels, checkNumFeatures, modelArgs, numArg } from './timmConfig';

/** The rate of `model_args.<name>` (0 when absent), in [0, 1). */
function rate(args: Record<string, unknown>, name: string, file: string): number {
  const v = numArg(args, name, file) ?? 0;
  if (v < 0 || v >= 1) throw badInput(`expected a rate in [0, 1), got ${v}`, { file, field: `model_args.${name}` });
  return v;
}

export const effnetFamily: StudentFamily<EffNetShape> = {
  name: 'efficientnet',
  configKey: 'architecture',
  archs: ['efficientnet_b0'],
  timm: { globalPool: 'avg', classifier: 'classifier', firstConv: 'conv_stem' },
  head: { weight: 'classifier.weight', bias: 'classifier.bias' },
  shapeOf(arch, config, tensors, numClasses, files) {
    const stem = tensors['conv_stem.weight'];
    if (!stem || stem.shape.length !== 4)
      throw badInput(
        `${stem ? `conv_stem.weight has shape [${stem.shape.join(', ')}], expected [width, channels, 3, 3]` : 'no tensor conv_stem.weight'}: this is not an ${arch} state dict`,
        { file: files.weights, field: 'downstream.folder' },
      );
    const args = modelArgs(config, files.config);
    const pad = args.pad_type;
    if (pad !== undefined && pad !== '')
      throw badInput(
        `only PyTorch's symmetric padding (timm's default, pad_type '') is supported, got ${JSON.stringify(pad)} (the tf_ variants' "same" padding)`,
        { file: files.config, field: 'model_args.pad_type' },
      );
    // Each stage's blocks and width as the weights have them; B0's where a stage is missing (the
    // tensor check then names what is).
    const stages = EFFNET_B0.stages.map((def, i) => {
      let repeats = 0;
      for (const k of Object.keys(tensors)) {
        const m = /^blocks\.(\d+)\.(\d+)\./.exec(k);
        if (m && Number(m[1]) === i) repeats = Math.max(repeats, Number(m[2]) + 1);
      }
      const proj = tensors[`blocks.${i}.0.${def.kind === 'ds' ? 'conv_pw' : 'conv_pwl'}.weight`];
      return { repeats: repeats || def.repeats, width: proj?.shape[0] ?? def.width };
    });
    const head = tensors['conv_head.weight']?.shape[0] ?? EFFNET_B0.head;
    return {
      arch,
      numClasses,
      inChannels: stem.shape[1],
      stem: stem.shape[0],
      stages,
      head,
      dropRate: rate(args, 'drop_rate', files.config),
      dropPathRate: rate(args, 'drop_path_rate', files.config),
    };
  },
  checkConfig(s, config, files) {
    checkNumFeatures(config, s.head, `an ${s.arch} with conv_head of width ${s.head}`, files.config);
    checkInputChannels(config, s.inChannels, `conv_stem.weight takes ${s.inChannels}`, files.config);
  },
  stateShapes: effnetStateShapes,
  features: (s) => s.head,
  input: (s) => ({ kind: 'image', channels: s.inChannels }),
  describe: (s) =>
    `${s.arch} (stem ${s.stem}, stages ${s.stages.map((st) => `${st.repeats}x${st.width}`).join(' ')}, head ${s.head})`,
  init: initEffNetState,
  build: buildEffNet,
  onnx: effnetGraph,
  activations: effnetActivations,
};
