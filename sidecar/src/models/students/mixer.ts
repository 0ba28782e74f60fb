/**
 * The MLP-Mixer family: timm's mixer_b16_224. The weights give the width, patch, depth, the
 * number of patches (the token MLP's input) and both MLP widths; config.json must agree.
 */
import { mixerGraph } from '../../export/mixer';
import { buildMixer, initMixerState, mixerStateShapes, type MixerShape } from '../mixer';
import { mixerActivations } from './activations';
import type { StudentFamily } from './family';
import { blockCount, blocksSaid, checkDims, dropRates, patchGrid, patchStem } from './patchModels';
import { checkInputChannels, checkNumFeatures } from './timmConfig';

/** timm's constructor arguments of each architecture. */
const MIXER_ARCHS: Record<string, { embed_dim: number; num_blocks: number; patch_size: number }> = {
  mixer_b16_224: { embed_dim: 768, num_blocks: 12, patch_size: 16 },
};

export const mixerFamily: StudentFamily<MixerShape> = {
  name: 'mixer',
  configKey: 'architecture',
  archs: Object.keys(MIXER_ARCHS),
  timm: { globalPool: 'avg', classifier: 'head', firstConv: 'stem.proj' },
  head: { weight: 'head.weight', bias: 'head.bias' },
  shapeOf(arch, config, tensors, numClasses, files) {
    const { embedDim, inChannels, patch } = patchStem('stem.proj.weight', arch, tensors, files);
    const depth = blockCount(tensors);
    const stem = `stem.proj.weight [${[embedDim, inChannels, patch, patch].join(', ')}]`;
    const args = checkDims(
      config,
      MIXER_ARCHS[arch],
      {
        embed_dim: { value: embedDim, how: stem },
        patch_size: { value: patch, how: stem },
        num_blocks: { value: depth, how: blocksSaid(depth) },
      },
      files,
    );
    // timm: tokens_dim, channels_dim = int(0.5·dim), int(4·dim) (mlp_ratio (0.5, 4.0)).
    const tokens = tensors['blocks.0.mlp_tokens.fc1.weight'];
    const channels = tensors['blocks.0.mlp_channels.fc1.weight'];
    const grid = patchGrid(
      config,
      args,
      patch,
      tokens?.shape[1],
      `blocks.0.mlp_tokens.fc1.weight [${tokens?.shape.join(', ')}] (patches)`,
      files,
    );
    const r = dropRates(args, ['drop_rate', 'proj_drop_rate'], files.config);
    return {
      arch,
      numClasses,
      inChannels,
      patch,
      embedDim,
      depth,
      tokensDim: tokens?.shape[0] ?? Math.floor(embedDim / 2),
      channelsDim: channels?.shape[0] ?? 4 * embedDim,
      grid,
      dropout: { head: r.drop_rate, proj: r.proj_drop_rate },
    };
  },
  checkConfig(s, config, files) {
    checkNumFeatures(config, s.embedDim, `a ${s.arch} of embed_dim ${s.embedDim}`, files.config);
    checkInputChannels(config, s.inChannels, `stem.proj.weight takes ${s.inChannels}`, files.config);
  },
  stateShapes: mixerStateShapes,
  features: (s) => s.embedDim,
  input: (s) => ({ kind: 'image', channels: s.inChannels, size: [s.grid[0] * s.patch, s.grid[1] * s.patch] }),
  describe: (s) =>
    `${s.arch} (embed_dim ${s.embedDim}, ${s.depth} blocks, ${s.patch}-pixel patches on ${s.grid[0] * s.patch}x${s.grid[1] * s.patch})`,
  init: initMixerState,
  build: buildMixer,
  onnx: mixerGraph,
  activations: (s) => mixerActivations(s),
};
