/**
 * The ViT family: timm's vit_{tiny,small,base}_patch16_224 and DeiT's deit_* (the same layout).
 * The weights give the width, patch, depth, MLP width and number of patches; the heads come from
 * `model_args.num_heads` or the architecture (the weights cannot say); whatever config.json says
 * must agree with the weights.
 */
import { badInput } from '../../../../core/common/util/errors';
import { vitGraph } from '../../export/vit';
import { buildViT, initViTState, vitStateShapes, type ViTShape } from '../vit';
import { vitActivations } from './activations';
import type { StudentFamily } from './family';
import { blockCount, blocksSaid, checkDims, dropRates, patchGrid, patchStem } from './patchModels';
import { checkInputChannels, checkNumFeatures, intArg } from './timmConfig';

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

export const vitFamily: StudentFamily<ViTShape> = {
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
  init: initViTState,
  build: buildViT,
  onnx: vitGraph,
  activations: (s) => vitActivations(s),
};
