/**
 * What the ViT and Mixer families share: their dimensions from the arch's defaults, timm's
 * `model_args` and the tensors, each said once and checked against the others; the square
 * patch stem; the fixed input size; timm's dropout arguments.
 */
import type { StEntry } from '../io/safetensors';
import { badInput } from '../../common/util/errors';
import type { HubConfig, HubFiles } from './family';
import { agrees, intArg, modelArgs, numArg } from './timmConfig';

/** The stem: kernel [D, C, P, P] at `key`, as a stride-P convolution. */
export function patchStem(
  key: string,
  arch: string,
  tensors: Record<string, StEntry>,
  files: HubFiles,
): { embedDim: number; inChannels: number; patch: number } {
  const t = tensors[key];
  if (!t || t.shape.length !== 4 || t.shape[2] !== t.shape[3])
    throw badInput(
      `${t ? `${key} has shape [${t.shape.join(', ')}], expected [embed_dim, channels, patch, patch]` : `no tensor ${key}`}: this is not a ${arch} state dict`,
      { file: files.weights, field: 'downstream.folder' },
    );
  const [embedDim, inChannels, patch] = t.shape as [number, number, number];
  return { embedDim, inChannels, patch };
}

/** The number of `blocks.N.` indices in the tensors (N = 0 … count − 1). */
export function blockCount(tensors: Record<string, StEntry>): number {
  let count = 0;
  for (const k of Object.keys(tensors)) {
    const m = /^blocks\.(\d+)\./.exec(k);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}

/** Where a block count comes from, for messages. */
export const blocksSaid = (count: number): string =>
  count ? `the tensors' blocks.0 … blocks.${count - 1}` : 'the tensors (no blocks.N)';

/**
 * The image size the model was built for, as timm decides it: `model_args.img_size`, else
 * `pretrained_cfg.input_size` (unless `fixed_input_size` is false), else the architecture's
 * (224); and the patch grid it gives, which must hold `patches` patches when the weights say
 * (undefined when the tensor that says is missing: the tensor check names it).
 */
export function patchGrid(
  config: HubConfig,
  args: Record<string, unknown>,
  patch: number,
  patches: number | undefined,
  where: string,
  files: HubFiles,
): [number, number] {
  const img = args.img_size;
  const pc = config.pretrained_cfg;
  let size: [number, number] | undefined;
  let from = '';
  if (typeof img === 'number') [size, from] = [[img, img], `model_args.img_size ${img}`];
  else if (Array.isArray(img) && img.length === 2)
    [size, from] = [img as [number, number], `model_args.img_size ${JSON.stringify(img)}`];
  else if (pc?.fixed_input_size !== false && Array.isArray(pc?.input_size) && pc.input_size.length === 3)
    [size, from] = [
      [pc.input_size[1], pc.input_size[2]] as [number, number],
      `pretrained_cfg.input_size ${JSON.stringify(pc.input_size)}`,
    ];
  if (!size && patches === undefined) size = [224, 224];
  if (!size) {
    const side = Math.round(Math.sqrt(patches ?? 0));
    if (side * side !== patches)
      throw badInput(
        `${where} gives ${patches ?? 0} patches, not a square grid: set model_args.img_size [height, width]`,
        {
          file: files.config,
          field: 'model_args.img_size',
        },
      );
    return [side, side];
  }
  const grid: [number, number] = [Math.floor(size[0] / patch), Math.floor(size[1] / patch)];
  if (patches !== undefined && grid[0] * grid[1] !== patches)
    throw badInput(
      `${from} in ${patch}-pixel patches gives ${grid[0]}x${grid[1]} = ${grid[0] * grid[1]} patches, but ${where} gives ${patches}`,
      { file: files.config, field: from.split(' ')[0] },
    );
  return grid;
}

/** Dimensions said by `model_args` or else the architecture's defaults, against the ones the weights give. */
export function checkDims(
  config: HubConfig,
  defaults: Record<string, number>,
  fromWeights: Record<string, { value: number; how: string }>,
  files: HubFiles,
): Record<string, unknown> {
  const args = modelArgs(config, files.config);
  for (const [name, got] of Object.entries(fromWeights)) {
    const said = intArg(args, name, files.config);
    if (said !== undefined) agrees(name, said, got.value, got.how, files.config);
    else if (defaults[name] !== undefined && defaults[name] !== got.value)
      throw badInput(
        `the architecture has ${name} ${defaults[name]}, but ${got.how} gives ${got.value}: if the weights are right, say \`model_args.${name}: ${got.value}\` (timm passes model_args to the model)`,
        { file: files.config, field: 'architecture' },
      );
  }
  return args;
}

/** timm's dropout rates from model_args (0 when absent); stochastic depth (`drop_path_rate`) is refused. */
export function dropRates(
  args: Record<string, unknown>,
  names: readonly string[],
  file: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const v = numArg(args, name, file) ?? 0;
    if (v < 0 || v >= 1) throw badInput(`expected a rate in [0, 1), got ${v}`, { file, field: `model_args.${name}` });
    out[name] = v;
  }
  const dp = numArg(args, 'drop_path_rate', file) ?? 0;
  if (dp !== 0)
    throw badInput(`stochastic depth is not supported; set it to 0 (got ${dp})`, {
      file,
      field: 'model_args.drop_path_rate',
    });
  return out;
}
