/**
 * A student folder checked from its config.json and the weights' headers, no weight read: a
 * timm hub folder (`config.json` with `architecture`, `num_classes`, `pretrained_cfg`) or one as
 * Hugging Face transformers saves it (`config.json` with `model_type`, the folder's own
 * `tokenizer.json`), with `model.safetensors` or shards listed by `model.safetensors.index.json`.
 * An unknown architecture lists the known ones; missing, extra and mis-shaped tensors are each
 * named with the shape expected and the one found; a config that contradicts the weights says
 * which field; pickled weights (`.bin`, `.pt`, `.pth`: loading a pickle runs code) are refused
 * with how to convert them; fp16/bf16/fp64 weights are noted for conversion. The one check of a
 * folder wherever it is read: `aft validate`, `aft run`, export, predict (through the sidecar's
 * families) and the language server (through the specs alone: no TensorFlow.js).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { badInput } from '../../common/util/errors';
import type { DownstreamSpec } from '../experiment/schema';
import type { StEntry } from '../io/safetensors';
import { MAX_JSON_BYTES, readUserJson } from '../io/userFile';
import type { HubConfig, HubFiles, StateEntry, StudentShape, StudentSpec } from './family';
import { readWeightsHeader, weightFiles, WEIGHTS_FILE, WEIGHTS_INDEX } from './hubWeights';
import { familyOf } from './registry';

export const CONFIG_FILE = 'config.json';
const PICKLES = /\.(bin|pt|pth|ckpt|pkl)$/i;
const FIELD = 'downstream.folder';

/** A checked folder, its weights unread: its config, architecture and the weights' shape (from the header). */
export interface HubHeader<F extends StudentSpec = StudentSpec> {
  folder: string;
  config: HubConfig;
  arch: string;
  family: F;
  shape: StudentShape;
  /** Tensors stored as F16, BF16 or F64, which are converted to float32 when read. */
  converted: { dtype: string; count: number }[];
  /** Tensors the library itself drops on load (a pre-training head, a derived buffer), left out. */
  dropped: string[];
  /** The weight files: model.safetensors or the shards. */
  weightFiles: string[];
}

const convertHint = (file: string): string =>
  `convert it once with PyTorch where you trust the file: python -c "import torch; from safetensors.torch import save_file; sd = torch.load('${file}', map_location='cpu'); save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')"`;

/** The folder and its config.json, checked (no weights read): what data loading needs too. */
export function readHubConfig<F extends StudentSpec>(
  folder: string,
  families: readonly F[],
): {
  config: HubConfig;
  arch: string;
  family: F;
  file: string;
  names: string[];
} {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory())
    throw badInput('pre-trained model folder not found', { file: folder, field: FIELD });
  const names = fs.readdirSync(folder);
  if (!names.includes(WEIGHTS_FILE) && !names.includes(WEIGHTS_INDEX)) {
    const pickles = names.filter((n) => PICKLES.test(n));
    if (pickles.length) {
      throw badInput(
        `the weights are pickled (${pickles.join(', ')}); aft reads only ${WEIGHTS_FILE}, because loading a pickle runs code`,
        { file: folder, field: FIELD },
        [convertHint(pickles[0])],
      );
    }
    throw badInput(
      `no ${WEIGHTS_FILE} (nor ${WEIGHTS_INDEX} with its shards): expected timm's hub layout or a transformers folder (${CONFIG_FILE} + ${WEIGHTS_FILE})`,
      { file: folder, field: FIELD },
    );
  }
  const file = path.join(folder, CONFIG_FILE);
  if (!fs.existsSync(file))
    throw badInput(
      `no ${CONFIG_FILE}: expected timm's hub layout (${CONFIG_FILE} with \`architecture\`, \`num_classes\` and \`pretrained_cfg\`, + ${WEIGHTS_FILE}) or a transformers folder (${CONFIG_FILE} with \`model_type\`)`,
      { file: folder, field: FIELD },
    );
  // Read as every user file is (regular, bounded): a FIFO named config.json must not block the
  // language server, which checks the folder as the user types.
  const config = readUserJson(file, { what: CONFIG_FILE, maxBytes: MAX_JSON_BYTES }) as HubConfig;
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw badInput('expected a JSON object', { file });
  const { family, arch } = familyOf(config, file, families);
  for (const need of family.requiredFiles ?? [])
    if (!names.includes(need.name))
      throw badInput(`no ${need.name}: ${need.why}`, { file: folder, field: FIELD }, [need.hint]);
  const timm = family.timm;
  if (!timm) return { config, arch, family, file, names };
  if (config.global_pool !== undefined && config.global_pool !== timm.globalPool)
    throw badInput(
      `only ${timm.globalPool === 'avg' ? 'average pooling (`avg`)' : `\`${timm.globalPool}\` pooling`} is supported for a ${arch}, got ${JSON.stringify(config.global_pool)}`,
      { file, field: 'global_pool' },
    );
  const pc = config.pretrained_cfg;
  if (pc !== undefined && (typeof pc !== 'object' || pc === null || Array.isArray(pc)))
    throw badInput('expected an object', { file, field: 'pretrained_cfg' });
  for (const [k, want] of [
    ['classifier', timm.classifier],
    ['first_conv', timm.firstConv],
  ] as const) {
    const v = pc?.[k];
    if (v !== undefined && v !== want)
      throw badInput(`a ${arch} has \`${want}\` here, got ${JSON.stringify(v)}`, {
        file,
        field: `pretrained_cfg.${k}`,
      });
  }
  return { config, arch, family, file, names };
}

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** timm's classes: `num_classes` (and `pretrained_cfg.num_classes`) against the head's rows. */
function timmClasses(
  family: StudentSpec,
  config: HubConfig,
  tensors: Record<string, StEntry>,
  configFile: string,
): number {
  for (const [k, v] of [
    ['num_classes', config.num_classes],
    ['num_features', config.num_features],
  ] as const) {
    if (v !== undefined && !positiveInt(v))
      throw badInput(`expected a positive integer, got ${JSON.stringify(v)}`, { file: configFile, field: k });
  }
  const headKey = family.head.weight;
  const head = tensors[headKey];
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
  return numClasses;
}

/**
 * Checks a whole folder from config.json and the weights' headers, no weight read: the config,
 * tensor names, shapes and dtypes. What `aft validate` checks and what every reader of a folder
 * checks first (`readHubFolder`), so that both say the same.
 */
export function checkHubFolder<F extends StudentSpec>(folder: string, families: readonly F[]): HubHeader<F> {
  const { config, arch, family, file: configFile, names } = readHubConfig(folder, families);
  const weights = weightFiles(folder, names);
  const weightsFile = weights.described;
  const files = { config: configFile, weights: weightsFile };
  const all = readWeightsHeader(folder, weights.files);
  const dropped = Object.keys(all).filter((k) => family.ignored?.(k));
  const tensors = Object.fromEntries(Object.entries(all).filter(([k]) => !dropped.includes(k)));
  const header = { tensors };
  const numClasses = family.numClassesOf
    ? family.numClassesOf(config, tensors, files)
    : timmClasses(family, config, tensors, configFile);
  const shape = family.shapeOf(arch, config, header.tensors, numClasses, files);
  // Names, shapes and dtypes against the architecture.
  const problems = stateProblems(family.stateShapes(shape), header.tensors);
  if (problems.length) {
    const other = otherArchOf(families, arch, header.tensors, numClasses, files);
    const hint = other
      ? `; they are the weights of a ${other}: does config.json's architecture say the wrong one?`
      : '';
    throw badInput(
      `${path.basename(weightsFile)} does not match a ${family.describe(shape)}${numClasses ? ` with ${numClasses} classes` : ' without a head'} (${problems.length} problem${problems.length === 1 ? '' : 's'})${hint}`,
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
    dropped,
    weightFiles: weights.files,
  };
}

/** Another known architecture whose state dict the tensors are exactly, if any. */
function otherArchOf(
  families: readonly StudentSpec[],
  arch: string,
  tensors: Record<string, StEntry>,
  numClasses: number,
  files: HubFiles,
): string | undefined {
  for (const f of families)
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

/**
 * A checked folder against the inputs it will be trained on (`[height, width, channels]`, or
 * `[max_length]` token ids of a tokenizer of `vocabSize` ids) and the dataset's classes
 * (`undefined` when not known: `aft validate` before the data is read): its stem must read them,
 * and `head: keep` needs its classes. `aft run` and `aft validate` both say these.
 */
export function checkStudentInput(
  hub: HubHeader,
  spec: Pick<DownstreamSpec, 'head'>,
  inputShape: number[],
  numClasses: number | undefined,
  vocabSize?: number,
): void {
  const s = hub.shape;
  const input = hub.family.input(s);
  const field = 'downstream.model';
  if (input.kind === 'tokens') {
    if (vocabSize === undefined || inputShape.length !== 1)
      throw badInput(
        `the ${hub.family.describe(s)} reads text (token ids); this dataset has ${inputShape.length === 3 ? 'images' : 'arrays'} of shape [${inputShape.join(', ')}]: use a text dataset (\`dataset.source: text\`)`,
        { file: '<experiment>', field },
      );
    if (inputShape[0] > input.maxLength)
      throw badInput(
        `the dataset's texts are ${inputShape[0]} tokens long, but the ${s.arch} has ${input.maxLength} positions: set \`dataset.max_length\` to at most ${input.maxLength}`,
        { file: '<experiment>', field: 'dataset.max_length' },
      );
    if (vocabSize > input.vocab)
      throw badInput(
        `the tokenizer gives ids up to ${vocabSize - 1}, but the ${s.arch}'s word embeddings have ${input.vocab} rows: is ${path.join(hub.folder, input.tokenizer)} this model's tokenizer?`,
        { file: '<experiment>', field },
      );
  } else {
    if (vocabSize !== undefined || inputShape.length !== 3 || inputShape[2] !== input.channels) {
      throw badInput(
        `the ${s.arch} reads images [height, width, ${input.channels}] (its ${hub.family.timm?.firstConv ?? 'stem'} takes ${input.channels} channels); this dataset's inputs ${vocabSize !== undefined ? 'are texts (token ids)' : `have shape [${inputShape.join(', ')}]`}`,
        { file: '<experiment>', field },
      );
    }
    if (input.size && (inputShape[0] !== input.size[0] || inputShape[1] !== input.size[1])) {
      throw badInput(
        `the ${hub.family.describe(s)} reads ${input.size[0]}x${input.size[1]} images only (its weights fix the number of patches); this dataset's images are ${inputShape[0]}x${inputShape[1]}: leave \`downstream.input_size\` out (pretrained_cfg.input_size is used) or set it to [${input.size.join(', ')}]`,
        { file: '<experiment>', field: 'downstream.input_size' },
      );
    }
  }
  if (spec.head === 'keep' && numClasses !== undefined && numClasses !== s.numClasses) {
    throw badInput(
      s.numClasses === 0
        ? `\`head: keep\` needs a classification head, and the folder has none (a bare ${hub.family.describe(s)}); use \`head: reinit\``
        : `\`head: keep\` needs the model's classes to be the dataset's: the model has ${s.numClasses}, the dataset ${numClasses}; use \`head: reinit\``,
      { file: '<experiment>', field: 'downstream.head' },
    );
  }
}
