/**
 * The EfficientNet family (timm's efficientnet_b0, plain PyTorch padding; the `tf_` variants are
 * not read) as the folder checks see it: B0's stages, the blocks and the state dict's names and
 * shapes. The widths of the stem, stages and head and each stage's number of blocks come from the
 * weights (what timm's width and depth multipliers give); every other tensor's shape follows from
 * them and is checked; config.json's num_features and input channels must agree. The model
 * itself is sidecar/src/models/efficientnet.ts.
 */
import { badInput } from '../../common/util/errors';
import { effnetActivations } from './activations';
import type { ConvGeometry } from './conv';
import type { StateEntry, StudentSpec } from './family';
import { checkInputChannels, checkNumFeatures, modelArgs, numArg } from './timmConfig';

/** One stage of timm's arch_def (`ds_r1_k3_s1_e1_c16_se0.25`, …): block kind, repeats, kernel, stride, expansion, width. */
export interface StageDef {
  kind: 'ds' | 'ir';
  repeats: number;
  kernel: number;
  stride: number;
  expansion: number;
  width: number;
}

/** timm's `_gen_efficientnet` arch_def for B0 (every stage with squeeze-excite 0.25), stem 32, head 1280. */
export const EFFNET_B0: { stem: number; head: number; stages: readonly StageDef[] } = {
  stem: 32,
  head: 1280,
  stages: [
    { kind: 'ds', repeats: 1, kernel: 3, stride: 1, expansion: 1, width: 16 },
    { kind: 'ir', repeats: 2, kernel: 3, stride: 2, expansion: 6, width: 24 },
    { kind: 'ir', repeats: 2, kernel: 5, stride: 2, expansion: 6, width: 40 },
    { kind: 'ir', repeats: 3, kernel: 3, stride: 2, expansion: 6, width: 80 },
    { kind: 'ir', repeats: 3, kernel: 5, stride: 1, expansion: 6, width: 112 },
    { kind: 'ir', repeats: 4, kernel: 5, stride: 2, expansion: 6, width: 192 },
    { kind: 'ir', repeats: 1, kernel: 3, stride: 1, expansion: 6, width: 320 },
  ],
};
const SE_RATIO = 0.25;

/** An EfficientNet's shape: B0's stages at the widths and depths its weights have. */
export interface EffNetShape {
  arch: string;
  numClasses: number;
  inChannels: number;
  /** Output channels of conv_stem. */
  stem: number;
  /** Per stage: the number of blocks and the output width. */
  stages: { repeats: number; width: number }[];
  /** Output channels of conv_head: the width of φ. */
  head: number;
  dropRate: number;
  dropPathRate: number;
}

/** timm's make_divisible (divisor 8): the nearest multiple, never below 8 nor 10% below v. */
export function makeDivisible(v: number, divisor = 8): number {
  let out = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

/** Python's round(): halves to even (timm's default rounding of the squeeze-excite width). */
function pyRound(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

export interface BlockSpec {
  prefix: string;
  kind: 'ds' | 'ir';
  cin: number;
  mid: number;
  cout: number;
  /** Squeeze-excite width. */
  rd: number;
  dw: ConvGeometry;
  skip: boolean;
  /** Stochastic-depth rate of this block (timm: drop_path_rate · index / count). */
  dropPath: number;
}

/** Every block in order, as timm's EfficientNetBuilder makes them. */
export function effnetBlocks(s: EffNetShape): BlockSpec[] {
  const count = s.stages.reduce((a, st) => a + st.repeats, 0);
  const out: BlockSpec[] = [];
  let cin = s.stem;
  EFFNET_B0.stages.forEach((def, i) => {
    const { repeats, width: cout } = s.stages[i];
    for (let j = 0; j < repeats; j++) {
      const stride = j === 0 ? def.stride : 1;
      // The builder divides the SE ratio by the expansion (se_from_exp False): SE reduces from the block's input width.
      const mid = def.kind === 'ds' ? cin : makeDivisible(cin * def.expansion);
      out.push({
        prefix: `blocks.${i}.${j}`,
        kind: def.kind,
        cin,
        mid,
        cout,
        rd: pyRound(mid * (SE_RATIO / def.expansion)),
        dw: { kernel: def.kernel, stride, pad: (stride - 1 + (def.kernel - 1)) >> 1 },
        skip: stride === 1 && cin === cout,
        dropPath: (s.dropPathRate * out.length) / count,
      });
      cin = cout;
    }
  });
  return out;
}

export type EffNetRole = 'conv' | 'dw' | 'bn' | 'se' | 'fc';
export interface EffNetEntry extends StateEntry {
  role: EffNetRole;
}

/** Every state-dict entry in timm's order, with PyTorch's shapes. */
export function effnetStateShapes(s: EffNetShape): EffNetEntry[] {
  const out: EffNetEntry[] = [];
  const conv = (key: string, cout: number, cin: number, k = 1): void => {
    out.push({ key: `${key}.weight`, shape: [cout, cin, k, k], role: 'conv', kind: 'param' });
  };
  const bn = (key: string, c: number): void => {
    out.push(
      { key: `${key}.weight`, shape: [c], role: 'bn', kind: 'param' },
      { key: `${key}.bias`, shape: [c], role: 'bn', kind: 'param' },
      { key: `${key}.running_mean`, shape: [c], role: 'bn', kind: 'buffer' },
      { key: `${key}.running_var`, shape: [c], role: 'bn', kind: 'buffer' },
      { key: `${key}.num_batches_tracked`, shape: [], role: 'bn', kind: 'counter' },
    );
  };
  const se = (key: string, c: number, rd: number): void => {
    out.push(
      { key: `${key}.conv_reduce.weight`, shape: [rd, c, 1, 1], role: 'se', kind: 'param' },
      { key: `${key}.conv_reduce.bias`, shape: [rd], role: 'se', kind: 'param' },
      { key: `${key}.conv_expand.weight`, shape: [c, rd, 1, 1], role: 'se', kind: 'param' },
      { key: `${key}.conv_expand.bias`, shape: [c], role: 'se', kind: 'param' },
    );
  };
  const dw = (key: string, c: number, k: number): void => {
    out.push({ key: `${key}.weight`, shape: [c, 1, k, k], role: 'dw', kind: 'param' });
  };
  conv('conv_stem', s.stem, s.inChannels, 3);
  bn('bn1', s.stem);
  for (const b of effnetBlocks(s)) {
    const p = b.prefix;
    if (b.kind === 'ds') {
      dw(`${p}.conv_dw`, b.mid, b.dw.kernel);
      bn(`${p}.bn1`, b.mid);
      se(`${p}.se`, b.mid, b.rd);
      conv(`${p}.conv_pw`, b.cout, b.mid);
      bn(`${p}.bn2`, b.cout);
    } else {
      conv(`${p}.conv_pw`, b.mid, b.cin);
      bn(`${p}.bn1`, b.mid);
      dw(`${p}.conv_dw`, b.mid, b.dw.kernel);
      bn(`${p}.bn2`, b.mid);
      se(`${p}.se`, b.mid, b.rd);
      conv(`${p}.conv_pwl`, b.cout, b.mid);
      bn(`${p}.bn3`, b.cout);
    }
  }
  conv('conv_head', s.head, s.stages[s.stages.length - 1].width);
  bn('bn2', s.head);
  out.push(
    { key: 'classifier.weight', shape: [s.numClasses, s.head], role: 'fc', kind: 'param' },
    { key: 'classifier.bias', shape: [s.numClasses], role: 'fc', kind: 'param' },
  );
  return out;
}

/** The rate of `model_args.<name>` (0 when absent), in [0, 1). */
function rate(args: Record<string, unknown>, name: string, file: string): number {
  const v = numArg(args, name, file) ?? 0;
  if (v < 0 || v >= 1) throw badInput(`expected a rate in [0, 1), got ${v}`, { file, field: `model_args.${name}` });
  return v;
}

export const effnetSpec: StudentSpec<EffNetShape> = {
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
  activations: (s, size) => effnetActivations(s, size),
};
