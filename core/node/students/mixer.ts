/**
 * The MLP-Mixer family (timm's mixer_b16_224) as the folder checks see it: the state dict's names
 * and shapes, and the shape from the weights (width, patch, depth, the number of patches (the
 * token MLP's input) and both MLP widths); config.json must agree. The model itself is
 * sidecar/src/models/mixer.ts.
 */
import { mixerActivations } from './activations';
import type { StateEntry, StudentSpec } from './family';
import { blockCount, blocksSaid, checkDims, dropRates, patchGrid, patchStem } from './patchModels';
import { linearEntries, mlpEntries, normEntries, param } from './stateEntries';
import { checkInputChannels, checkNumFeatures } from './timmConfig';

export interface MixerShape {
  arch: string;
  numClasses: number;
  inChannels: number;
  patch: number;
  embedDim: number;
  depth: number;
  /** Hidden widths of the token MLP (timm: 0.5·embed_dim) and the channel MLP (4·embed_dim). */
  tokensDim: number;
  channelsDim: number;
  grid: [number, number];
  /** timm's `drop_rate` (before the head) and `proj_drop_rate` (inside the MLPs). */
  dropout: { head: number; proj: number };
}

export function mixerStateShapes(s: MixerShape): StateEntry[] {
  const d = s.embedDim;
  const l = s.grid[0] * s.grid[1];
  const out = [param('stem.proj.weight', [d, s.inChannels, s.patch, s.patch]), param('stem.proj.bias', [d])];
  for (let i = 0; i < s.depth; i++) {
    const b = `blocks.${i}`;
    out.push(
      ...normEntries(`${b}.norm1`, d),
      ...mlpEntries(`${b}.mlp_tokens`, l, s.tokensDim),
      ...normEntries(`${b}.norm2`, d),
      ...mlpEntries(`${b}.mlp_channels`, d, s.channelsDim),
    );
  }
  out.push(...normEntries('norm', d), ...linearEntries('head', s.numClasses, d));
  return out;
}

/** timm's constructor arguments of each architecture. */
const MIXER_ARCHS: Record<string, { embed_dim: number; num_blocks: number; patch_size: number }> = {
  mixer_b16_224: { embed_dim: 768, num_blocks: 12, patch_size: 16 },
};

export const mixerSpec: StudentSpec<MixerShape> = {
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
  activations: (s) => mixerActivations(s),
};
