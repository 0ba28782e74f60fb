/**
 * Pre-trained students from a local folder in timm's hub layout: `config.json` (`architecture`,
 * `num_classes`, `pretrained_cfg` with the input size and preprocessing) and `model.safetensors`
 * (the PyTorch state dict; torchvision's ResNets have the same key names). The architecture's
 * family (students/registry.ts: ResNet, ViT/DeiT, MLP-Mixer) infers the shape, lists the tensors
 * and builds the model; this module only dispatches. The folder is checked before anything is built: an unknown architecture lists the known ones; missing, extra and
 * mis-shaped tensors are each named with the shape expected and the one found; a config that
 * contradicts the weights says which field; pickled weights (`.bin`, `.pt`, `.pth`: loading a
 * pickle runs code) are refused with how to convert them. fp16/bf16/fp64 weights become float32.
 *
 * A trained student is saved in the same layout (`hubFiles`), `num_classes` updated, so that
 * timm and torchvision load it back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DownstreamSpec } from '../../../core/node/experiment/schema';
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  type StEntry,
  type StTensor,
} from '../../../core/node/io/safetensors';
import { badInput } from '../../../core/common/util/errors';
import { timmImagePreprocess, type ImagePreprocess } from '../features/imagePreprocess';
import { Rng, seedFor } from '../util/rng';
import type { DownstreamModel } from './downstream';
import type { HubConfig, HubFiles, StateEntry, StudentFamily, StudentModel, StudentShape } from './students/family';
import { familyOf, STUDENT_FAMILIES } from './students/registry';

export type { HubConfig } from './students/family';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
const PICKLES = /\.(bin|pt|pth|ckpt|pkl)$/i;
const FIELD = 'downstream.folder';

/** A checked folder, its weights unread: its config, architecture and the weights' shape (from the header). */
export interface HubHeader {
  folder: string;
  config: HubConfig;
  arch: string;
  family: StudentFamily;
  shape: StudentShape;
  /** Tensors stored as F16, BF16 or F64, which are converted to float32 when read. */
  converted: { dtype: string; count: number }[];
}

/** A checked folder with its weights. */
export interface HubFolder extends HubHeader {
  state: Record<string, StTensor>;
}

const convertHint = (file: string): string =>
  `convert it once with PyTorch where you trust the file: python -c "import torch; from safetensors.torch import save_file; sd = torch.load('${file}', map_location='cpu'); save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')"`;

/** The folder and its config.json, checked (no weights read): what data loading needs too. */
export function readHubConfig(folder: string): {
  config: HubConfig;
  arch: string;
  family: StudentFamily;
  file: string;
} {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory())
    throw badInput('pre-trained model folder not found', { file: folder, field: FIELD });
  const names = fs.readdirSync(folder);
  if (!names.includes(WEIGHTS_FILE)) {
    const pickles = names.filter((n) => PICKLES.test(n));
    if (pickles.length) {
      throw badInput(
        `the weights are pickled (${pickles.join(', ')}); aft reads only ${WEIGHTS_FILE}, because loading a pickle runs code`,
        { file: folder, field: FIELD },
        [convertHint(pickles[0])],
      );
    }
    throw badInput(`no ${WEIGHTS_FILE}: expected timm's hub layout (${CONFIG_FILE} + ${WEIGHTS_FILE})`, {
      file: folder,
      field: FIELD,
    });
  }
  const file = path.join(folder, CONFIG_FILE);
  if (!fs.existsSync(file))
    throw badInput(
      `no ${CONFIG_FILE}: expected timm's hub layout (${CONFIG_FILE} with \`architecture\`, \`num_classes\` and \`pretrained_cfg\`, + ${WEIGHTS_FILE})`,
      { file: folder, field: FIELD },
    );
  let config: HubConfig;
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8')) as HubConfig;
  } catch (e) {
    throw badInput(`not valid JSON: ${(e as Error).message}`, { file });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw badInput('expected a JSON object', { file });
  const family = familyOf(config.architecture, file);
  const arch = config.architecture as string;
  if (config.global_pool !== undefined && config.global_pool !== family.timm.globalPool)
    throw badInput(
      `only ${family.timm.globalPool === 'avg' ? 'average pooling (`avg`)' : `\`${family.timm.globalPool}\` pooling`} is supported for a ${arch}, got ${JSON.stringify(config.global_pool)}`,
      { file, field: 'global_pool' },
    );
  const pc = config.pretrained_cfg;
  if (pc !== undefined && (typeof pc !== 'object' || pc === null || Array.isArray(pc)))
    throw badInput('expected an object', { file, field: 'pretrained_cfg' });
  for (const [k, want] of [
    ['classifier', family.timm.classifier],
    ['first_conv', family.timm.firstConv],
  ] as const) {
    const v = pc?.[k];
    if (v !== undefined && v !== want)
      throw badInput(`a ${arch} has \`${want}\` here, got ${JSON.stringify(v)}`, {
        file,
        field: `pretrained_cfg.${k}`,
      });
  }
  return { config, arch, family, file };
}

/** How the student's images are prepared: the folder's `pretrained_cfg`, `input_size` overriding its size. */
export function studentImagePreprocess(
  spec: Pick<DownstreamSpec, 'folder' | 'input_size'>,
  baseDir: string,
): ImagePreprocess {
  const folder = path.resolve(baseDir, spec.folder ?? '');
  const { config, file } = readHubConfig(folder);
  return timmImagePreprocess(config.pretrained_cfg ?? {}, spec.input_size, file);
}

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * Checks a whole folder from config.json and the safetensors header, no weight read: the
 * config, tensor names, shapes and dtypes. What `aft validate` checks and what every reader of a
 * folder checks first (`readHubFolder`), so that both say the same.
 */
export function checkHubFolder(folder: string): HubHeader {
  const { config, arch, family, file: configFile } = readHubConfig(folder);
  const weightsFile = path.join(folder, WEIGHTS_FILE);
  const files = { config: configFile, weights: weightsFile };
  const header = readSafetensorsHeader(weightsFile);
  for (const [k, v] of [
    ['num_classes', config.num_classes],
    ['num_features', config.num_features],
  ] as const) {
    if (v !== undefined && !positiveInt(v))
      throw badInput(`expected a positive integer, got ${JSON.stringify(v)}`, { file: configFile, field: k });
  }
  const headKey = family.head.weight;
  const head = header.tensors[headKey];
  const numClasses = positiveInt(config.num_classes) ? config.num_classes : head?.shape[0];
  if (!positiveInt(numClasses))
    throw badInput(
      `the number of classes is unknown: config.json has no \`num_classes\` and the weights no ${headKey}`,
      {
        file: configFile,
        field: 'num_classes',
      },
    );
  // The classes the config says decide the head's shape: a contradiction is said first.
  if (head && head.shape[0] !== numClasses)
    throw badInput(
      `config.json says num_classes ${numClasses}, but ${headKey} has ${head.shape[0]} rows (shape [${head.shape.join(', ')}])`,
      { file: configFile, field: 'num_classes' },
    );
  const pcClasses = config.pretrained_cfg?.num_classes;
  if (pcClasses !== undefined && pcClasses !== numClasses)
    throw badInput(
      `pretrained_cfg says num_classes ${JSON.stringify(pcClasses)}, but the model has ${numClasses} classes`,
      { file: configFile, field: 'pretrained_cfg.num_classes' },
    );
  const shape = family.shapeOf(arch, config, header.tensors, numClasses, files);
  // Names, shapes and dtypes against the architecture.
  const problems = stateProblems(family.stateShapes(shape), header.tensors);
  if (problems.length) {
    const other = otherArchOf(arch, header.tensors, numClasses, files);
    const hint = other
      ? `; they are the weights of a ${other}: does config.json's architecture say the wrong one?`
      : '';
    throw badInput(
      `${WEIGHTS_FILE} does not match a ${family.describe(shape)} with ${numClasses} classes (${problems.length} problem${problems.length === 1 ? '' : 's'})${hint}`,
      { file: weightsFile, field: FIELD },
      problems.slice(0, 30).concat(problems.length > 30 ? [`… and ${problems.length - 30} more`] : []),
    );
  }
  // The rest of the config against the weights.
  family.checkConfig(shape, config, files);
  const converted = new Map<string, number>();
  for (const e of Object.values(header.tensors))
    if (e.dtype === 'F16' || e.dtype === 'BF16' || e.dtype === 'F64')
      converted.set(e.dtype, (converted.get(e.dtype) ?? 0) + 1);
  return {
    folder,
    config,
    arch,
    family,
    shape,
    converted: [...converted].map(([dtype, count]) => ({ dtype, count })),
  };
}

/** Reads and checks a whole folder: `checkHubFolder`, then the weights. */
export function readHubFolder(folder: string): HubFolder {
  const header = checkHubFolder(folder);
  const { tensors } = readSafetensors(path.join(folder, WEIGHTS_FILE));
  return { ...header, state: tensors };
}

/** Another known architecture whose state dict the tensors are exactly, if any. */
function otherArchOf(
  arch: string,
  tensors: Record<string, StEntry>,
  numClasses: number,
  files: HubFiles,
): string | undefined {
  for (const f of STUDENT_FAMILIES)
    for (const a of f.archs) {
      if (a === arch) continue;
      try {
        const s = f.shapeOf(a, {}, tensors, numClasses, files);
        if (stateProblems(f.stateShapes(s), tensors).length === 0) return a;
      } catch {
        // Not this one: its stem or blocks are not in the tensors.
      }
    }
  return undefined;
}

function stateProblems(expected: StateEntry[], got: Record<string, { dtype: string; shape: number[] }>): string[] {
  const problems: string[] = [];
  const want = new Map(expected.map((e) => [e.key, e]));
  for (const e of expected) {
    const t = got[e.key];
    if (!t) {
      // timm's published weights may leave the counters out; they start at 0.
      if (e.kind !== 'counter') problems.push(`missing: ${e.key} [${e.shape.join(', ')}]`);
      continue;
    }
    if (t.shape.join('x') !== e.shape.join('x'))
      problems.push(`mis-shaped: ${e.key} expected [${e.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    else if (e.kind !== 'counter' && !['F32', 'F16', 'BF16', 'F64'].includes(t.dtype))
      problems.push(`not floating point: ${e.key} is ${t.dtype}`);
  }
  for (const [k, t] of Object.entries(got)) if (!want.has(k)) problems.push(`unexpected: ${k} [${t.shape.join(', ')}]`);
  return problems;
}

/** The last folder read, while its files are unchanged: every job of a run starts from the same weights. */
let cached: { key: string; hub: HubFolder } | undefined;

function readCached(folder: string): HubFolder {
  const stamp = (f: string): string => {
    const s = fs.statSync(f);
    return `${s.size}:${s.mtimeMs}`;
  };
  const key = `${folder}\0${stamp(path.join(folder, CONFIG_FILE))}\0${stamp(path.join(folder, WEIGHTS_FILE))}`;
  if (cached?.key !== key) cached = { key, hub: readHubFolder(folder) };
  return cached.hub;
}

export interface PretrainedStudent extends StudentModel {
  hub: { config: HubConfig; headReinitialised: boolean };
}

export function isPretrainedStudent(m: DownstreamModel): m is PretrainedStudent {
  return m.kind === 'pretrained' && 'hub' in m;
}

/**
 * The folder of a `model: pretrained` student (`spec.folder`, absolute) read and checked against
 * the dataset: its stem must read the dataset's inputs, and `head: keep` needs its classes. Run
 * before any feature extraction, so that a student that cannot train stops the run first.
 */
export function checkPretrainedStudent(spec: DownstreamSpec, inputShape: number[], numClasses: number): HubFolder {
  if (!spec.folder) throw badInput('`model: pretrained` needs `folder`', { file: '<experiment>', field: FIELD });
  const hub = readCached(path.resolve(spec.folder));
  checkStudentInput(hub, spec, inputShape, numClasses);
  return hub;
}

/**
 * A checked folder against the inputs it will be trained on (`[height, width, channels]`) and the
 * dataset's classes (`undefined` when not known: `aft validate` before the data is read): its stem
 * must read them, and `head: keep` needs its classes. `aft run` and `aft validate` both say these.
 */
export function checkStudentInput(
  hub: HubHeader,
  spec: Pick<DownstreamSpec, 'head'>,
  inputShape: number[],
  numClasses: number | undefined,
): void {
  const s = hub.shape;
  const input = hub.family.input(s);
  if (inputShape.length !== 3 || inputShape[2] !== input.channels) {
    throw badInput(
      `the ${s.arch} reads images [height, width, ${input.channels}] (its ${hub.family.timm.firstConv} takes ${input.channels} channels); this dataset's inputs have shape [${inputShape.join(', ')}]`,
      { file: '<experiment>', field: 'downstream.model' },
    );
  }
  if (input.size && (inputShape[0] !== input.size[0] || inputShape[1] !== input.size[1])) {
    throw badInput(
      `the ${hub.family.describe(s)} reads ${input.size[0]}x${input.size[1]} images only (its weights fix the number of patches); this dataset's images are ${inputShape[0]}x${inputShape[1]}: leave \`downstream.input_size\` out (pretrained_cfg.input_size is used) or set it to [${input.size.join(', ')}]`,
      { file: '<experiment>', field: 'downstream.input_size' },
    );
  }
  if (spec.head === 'keep' && numClasses !== undefined && numClasses !== s.numClasses) {
    throw badInput(
      `\`head: keep\` needs the model's classes to be the dataset's: the model has ${s.numClasses}, the dataset ${numClasses}; use \`head: reinit\``,
      { file: '<experiment>', field: 'downstream.head' },
    );
  }
}

/**
 * The student of a `model: pretrained` experiment (`spec.folder` absolute): the folder's weights,
 * the head re-initialised for `numClasses` (PyTorch's nn.Linear init, seeded) unless
 * `head: keep`, BatchNorm as `spec.batchnorm` says; with `weights: random`, none of the folder's
 * weights (its architecture only).
 */
export function createPretrainedStudent(
  spec: DownstreamSpec,
  inputShape: number[],
  numClasses: number,
  seed: number,
  log: (m: string) => void = () => {},
): PretrainedStudent {
  const hub = checkPretrainedStudent(spec, inputShape, numClasses);
  const s = hub.shape;
  for (const c of hub.converted)
    log(`${hub.folder}: ${c.count} ${c.dtype} tensor${c.count === 1 ? '' : 's'} converted to float32`);
  // `weights: random`: the same network from scratch, initialised as torchvision does.
  let state = spec.weights === 'random' ? hub.family.init(s, new Rng(seedFor(seed, 'weights'))) : hub.state;
  const reinit = spec.head !== 'keep';
  if (reinit) {
    const features = hub.family.features(s);
    const rng = new Rng(seed);
    const bound = 1 / Math.sqrt(features);
    const uniform = (n: number): Float32Array => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * bound);
    state = {
      ...state,
      [hub.family.head.weight]: { shape: [numClasses, features], data: uniform(numClasses * features) },
      [hub.family.head.bias]: { shape: [numClasses], data: uniform(numClasses) },
    };
  }
  const model = hub.family.build({ ...s, numClasses }, state, { batchnorm: spec.batchnorm, seed });
  const activations = hub.family.activations?.(s, [inputShape[0], inputShape[1]]);
  return Object.assign(model, {
    hub: { config: hub.config, headReinitialised: reinit },
    ...(activations ? { evalActivations: activations.eval } : {}),
  });
}

/**
 * The files of a trained student in the hub layout: config.json with `num_classes` (and
 * `pretrained_cfg.num_classes`) updated, the label names dropped when the head was
 * re-initialised, and model.safetensors with the original key names, PyTorch layouts and the
 * BatchNorm buffers (`num_batches_tracked` int64). `metadata` goes into the safetensors header.
 */
export async function hubFiles(
  model: PretrainedStudent,
  metadata: Record<string, string>,
): Promise<Record<string, string | Uint8Array>> {
  const config: HubConfig = structuredClone(model.hub.config);
  const classes = model.shape.numClasses;
  config.num_classes = classes;
  if (config.pretrained_cfg) config.pretrained_cfg = { ...config.pretrained_cfg, num_classes: classes };
  if (model.hub.headReinitialised) {
    delete config.label_names;
    delete config.label_descriptions;
  }
  return {
    [CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
    [WEIGHTS_FILE]: encodeSafetensors(await model.stateDict(), { format: 'pt', ...metadata }),
  };
}
