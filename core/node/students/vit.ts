/**
 * The ViT family (timm's vit_{tiny,small,base}_patch16_224 and DeiT's deit_*, the same layout)
 * as the folder checks see it: the state dict's names and shapes, and the shape from the weights
 * (width, patch, depth, MLP width, number of patches) with the heads from `model_args.num_heads`
 * or the architecture (the weights cannot say); whatever config.json says must agree with the
 * weights. The model itself is sidecar/src/models/vit.ts.
 */
import { badInput } from '../../common/util/errors';
import { vitActivations } from './activations';
import type { StateEntry, StudentSpec } from './family';
import { blockCount, blocksSaid, checkDims, dropRates, patchGrid, patchStem } from './patchModels';
import { linearEntries, mlpEntries, normEntries, param } from './stateEntries';
import { checkInputChannels, checkNumFeatures, intArg } from './timmConfig';

/** timm's dropout rates (`model_args`); stochastic depth is refused where the config is read. */
export interface ViTDropout {
  /** Before the head (timm's `drop_rate`). */
  head: number;
  /** After the position embeddings. */
  pos: number;
  /** After the attention's projection and each MLP layer. */
  proj: number;
  /** On the attention weights. */
  attn: number;
}

export interface ViTShape {
  arch: string;
  numClasses: number;
  inChannels: number;
  patch: number;
  embedDim: number;
  depth: number;
  heads: number;
  mlpHidden: number;
  /** Patches per column and per row: the input is grid·patch pixels square. */
  grid: [number, number];
  dropout: ViTDropout;
}

export const NO_DROPOUT: ViTDropout = { head: 0, pos: 0, proj: 0, attn: 0 };

/** Every state-dict entry, in timm's order, with PyTorch's shapes. */
export function vitStateShapes(s: ViTShape): StateEntry[] {
  const d = s.embedDim;
  const out = [
    param('cls_token', [1, 1, d]),
    param('pos_embed', [1, s.grid[0] * s.grid[1] + 1, d]),
    param('patch_embed.proj.weight', [d, s.inChannels, s.patch, s.patch]),
    param('patch_embed.proj.bias', [d]),
  ];
  for (let i = 0; i < s.depth; i++) {
    const b = `blocks.${i}`;
    out.push(
      ...normEntries(`${b}.norm1`, d),
      ...linearEntries(`${b}.attn.qkv`, 3 * d, d),
      ...linearEntries(`${b}.attn.proj`, d, d),
      ...normEntries(`${b}.norm2`, d),
      ...mlpEntries(`${b}.mlp`, d, s.mlpHidden),
    );
  }
  out.push(...normEntries('norm', d), ...linearEntries('head', s.numClasses, d));
  return out;
}

const SIZES = { tiny: [192, 3], small: [384, 6], base: [768, 12] } as const;

/** timm's constructor arguments of each architecture. */
const VIT_ARCHS: Record<string, { embed_dim: number; depth: number; num_heads: number; patch_size: number }> =
  Object.fromEntries(
    ['vit', 'deit'].flatMap((kind) =>
      Object.entries(SIZES).map(([size, [embed_dim, num_heads]]) => [
        `${kind}_${size}_patch16_224`,
        { embed_dim, depth: 12, num_heads, patch_size: 16 },
      ]),
    ),
  );

export const vitSpec: StudentSpec<ViTShape> = {
  name: 'vit',
  configKey: 'architecture',
  archs: Object.keys(VIT_ARCHS),
  timm: { globalPool: 'token', classifier: 'head', firstConv: 'patch_embed.proj' },
  head: { weight: 'head.weight', bias: 'head.bias' },
  shapeOf(arch, config, tensors, numClasses, files) {
    const { embedDim, inChannels, patch } = patchStem('patch_embed.proj.weight', arch, tensors, files);
    const depth = blockCount(tensors);
    const stem = `patch_embed.proj.weight [${[embedDim, inChannels, patch, patch].join(', ')}]`;
    const fc1 = tensors['blocks.0.mlp.fc1.weight'];
    const mlpHidden = fc1?.shape[0] ?? 4 * embedDim;
    const pos = tensors['pos_embed'];
    if (!pos || pos.shape.length !== 3 || pos.shape[1] < 2)
      throw badInput(
        `${pos ? `pos_embed has shape [${pos.shape.join(', ')}], expected [1, 1 + patches, embed_dim]` : 'no tensor pos_embed'}: this is not a ${arch} state dict`,
        { file: files.weights, field: 'downstream.folder' },
      );
    const defaults = VIT_ARCHS[arch];
    const args = checkDims(
      config,
      { embed_dim: defaults.embed_dim, depth: defaults.depth, patch_size: defaults.patch_size },
      {
        embed_dim: { value: embedDim, how: stem },
        patch_size: { value: patch, how: stem },
        depth: { value: depth, how: blocksSaid(depth) },
      },
      files,
    );
    const heads = intArg(args, 'num_heads', files.config) ?? defaults.num_heads;
    if (embedDim % heads)
      throw badInput(
        `${heads} heads do not divide embed_dim ${embedDim}${args.num_heads === undefined ? ` (${arch} has ${heads}): say model_args.num_heads` : ''}`,
        { file: files.config, field: 'model_args.num_heads' },
      );
    const ratio = args.mlp_ratio;
    if (typeof ratio === 'number' && Math.floor(embedDim * ratio) !== mlpHidden)
      throw badInput(
        `config.json says mlp_ratio ${ratio}, but blocks.0.mlp.fc1.weight has ${mlpHidden} rows for embed_dim ${embedDim}`,
        { file: files.config, field: 'model_args.mlp_ratio' },
      );
    for (const [k, v] of [
      ['class_token', true],
      ['no_embed_class', false],
      ['qkv_bias', true],
    ] as const)
      if (args[k] !== undefined && args[k] !== v)
        throw badInput(`only ${k} ${String(v)} (timm's default) is supported, got ${JSON.stringify(args[k])}`, {
          file: files.config,
          field: `model_args.${k}`,
        });
    const grid = patchGrid(
      config,
      args,
      patch,
      pos.shape[1] - 1,
      `pos_embed [${pos.shape.join(', ')}] (1 + patches)`,
      files,
    );
    const r = dropRates(args, ['drop_rate', 'pos_drop_rate', 'proj_drop_rate', 'attn_drop_rate'], files.config);
    return {
      arch,
      numClasses,
      inChannels,
      patch,
      embedDim,
      depth,
      heads,
      mlpHidden,
      grid,
      dropout: { head: r.drop_rate, pos: r.pos_drop_rate, proj: r.proj_drop_rate, attn: r.attn_drop_rate },
    };
  },
  checkConfig(s, config, files) {
    checkNumFeatures(config, s.embedDim, `a ${s.arch} of embed_dim ${s.embedDim}`, files.config);
    checkInputChannels(config, s.inChannels, `patch_embed.proj.weight takes ${s.inChannels}`, files.config);
  },
  stateShapes: vitStateShapes,
  features: (s) => s.embedDim,
  input: (s) => ({ kind: 'image', channels: s.inChannels, size: [s.grid[0] * s.patch, s.grid[1] * s.patch] }),
  describe: (s) =>
    `${s.arch} (embed_dim ${s.embedDim}, depth ${s.depth}, ${s.heads} heads, ${s.patch}-pixel patches on ${s.grid[0] * s.patch}x${s.grid[1] * s.patch})`,
  activations: (s) => vitActivations(s),
};
