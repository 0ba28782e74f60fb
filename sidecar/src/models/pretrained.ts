/**
 * Pre-trained students from a local folder in timm's hub layout or as Hugging Face transformers
 * saves one, checked by core/node/students/hubFolder.ts (config.json and the weights' headers,
 * the one check of a folder) with the engine's families (students/registry.ts: ResNet, ViT/DeiT,
 * MLP-Mixer, EfficientNet, BERT, DistilBERT), then read and built; this module only dispatches.
 * fp16/bf16/fp64 weights become float32.
 *
 * A trained student is saved in the same layout (`hubFiles`), `num_classes` updated, so that
 * timm and torchvision load it back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DownstreamSpec } from '../../../core/node/experiment/schema';
import { encodeSafetensors, type StTensor } from '../../../core/node/io/safetensors';
import { badInput } from '../../../core/common/util/errors';
import {
  checkHubFolder as checkFolder,
  checkStudentInput,
  CONFIG_FILE,
  readHubConfig as readConfig,
  type HubHeader as FolderHeader,
} from '../../../core/node/students/hubFolder';
import { folderStamp } from '../../../core/node/students/folderStamp';
import { readWeights, WEIGHTS_FILE } from '../../../core/node/students/hubWeights';
import { timmImagePreprocess, type ImagePreprocess } from '../../../core/node/students/timmPreprocess';
import { Rng, seedFor } from '../util/rng';
import type { DownstreamModel } from './downstream';
import type { HubConfig, StudentFamily, StudentInput, StudentModel } from './students/family';
import { STUDENT_FAMILIES } from './students/registry';

export type { HubConfig } from './students/family';
export { WEIGHTS_FILE } from '../../../core/node/students/hubWeights';
export { CONFIG_FILE, checkStudentInput };

const FIELD = 'downstream.folder';

/** A checked folder of one of the engine's families, its weights unread. */
export type HubHeader = FolderHeader<StudentFamily>;

/** The folder and its config.json, checked (no weights read), with the engine's families: what data loading needs too. */
export const readHubConfig = (folder: string): ReturnType<typeof readConfig<StudentFamily>> =>
  readConfig(folder, STUDENT_FAMILIES);

/** `checkHubFolder` (core/node/students/hubFolder.ts) with the engine's families. */
export const checkHubFolder = (folder: string): HubHeader => checkFolder(folder, STUDENT_FAMILIES);

/** A checked folder with its weights. */
export interface HubFolder extends HubHeader {
  state: Record<string, StTensor>;
}

/** How the student's images are prepared: the folder's `pretrained_cfg`, `input_size` overriding its size. */
export function studentImagePreprocess(
  spec: Pick<DownstreamSpec, 'folder' | 'input_size'>,
  baseDir: string,
): ImagePreprocess {
  const folder = path.resolve(baseDir, spec.folder ?? '');
  const { config, file, family, arch } = readHubConfig(folder);
  // Said before any image is read: a text student cannot train on them.
  if (!family.timm)
    throw badInput(
      `the ${arch} student reads text (token ids), not images: use a text dataset (\`dataset.source: text\`) or an image student`,
      { file: '<experiment>', field: 'downstream.model' },
    );
  return timmImagePreprocess(config.pretrained_cfg ?? {}, spec.input_size, file);
}

/** Reads and checks a whole folder: `checkHubFolder`, then the weights (less those the library drops). */
export function readHubFolder(folder: string): HubFolder {
  const header = checkHubFolder(folder);
  const state = readWeights(header.weightFiles);
  for (const k of header.dropped) delete state[k];
  return { ...header, state };
}

/** The last folder read, while its files are unchanged (`folderStamp`): every job of a run starts from the same weights. */
let cached: { key: string; hub: HubFolder } | undefined;

function readCached(folder: string): HubFolder {
  const key = folderStamp(folder);
  if (cached?.hub.folder !== folder || cached.key !== key) cached = { key, hub: readHubFolder(folder) };
  return cached.hub;
}

/** What a student folder reads (images or its tokenizer's ids), from the folder as last read (see `readCached`). */
export function studentInputOf(folder: string): { input: StudentInput; family: StudentFamily } {
  const hub = readCached(path.resolve(folder));
  return { input: hub.family.input(hub.shape), family: hub.family };
}

export interface PretrainedStudent extends StudentModel {
  hub: { folder: string; family: StudentFamily; config: HubConfig; headReinitialised: boolean };
}

export function isPretrainedStudent(m: DownstreamModel): m is PretrainedStudent {
  return m.kind === 'pretrained' && 'hub' in m;
}

/**
 * The folder of a `model: pretrained` student (`spec.folder`, absolute) read and checked against
 * the dataset: an image student reads images of its channels (and size, where its weights fix
 * it), a text student token ids of a text dataset (`vocabSize` is given for text datasets only:
 * its tokenizer's), and `head: keep` needs its classes. Run before any feature extraction, so
 * that a student that cannot train stops the run first.
 */
export function checkPretrainedStudent(
  spec: DownstreamSpec,
  inputShape: number[],
  numClasses: number,
  vocabSize?: number,
): HubFolder {
  if (!spec.folder) throw badInput('`model: pretrained` needs `folder`', { file: '<experiment>', field: FIELD });
  const hub = readCached(path.resolve(spec.folder));
  checkStudentInput(hub, spec, inputShape, numClasses, vocabSize);
  return hub;
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
  vocabSize?: number,
): PretrainedStudent {
  const hub = checkPretrainedStudent(spec, inputShape, numClasses, vocabSize);
  let s = hub.shape;
  for (const c of hub.converted)
    log(`${hub.folder}: ${c.count} ${c.dtype} tensor${c.count === 1 ? '' : 's'} converted to float32`);
  if (hub.dropped.length)
    log(
      `${hub.folder}: left out ${hub.dropped.length} tensor${hub.dropped.length === 1 ? '' : 's'} the library drops too (${hub.dropped.slice(0, 3).join(', ')}${hub.dropped.length > 3 ? ', …' : ''})`,
    );
  // `weights: random`: the same network from scratch, initialised as torchvision does.
  let state = spec.weights === 'random' ? hub.family.init(s, new Rng(seedFor(seed, 'weights'))) : hub.state;
  const reinit = spec.head !== 'keep';
  if (reinit) {
    const features = hub.family.features(s);
    const rng = new Rng(seed);
    const bound = 1 / Math.sqrt(features);
    const uniform = (n: number): Float32Array => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * bound);
    const head = {
      [hub.family.head.weight]: { shape: [numClasses, features], data: uniform(numClasses * features) },
      [hub.family.head.bias]: { shape: [numClasses], data: uniform(numClasses) },
    };
    if (hub.family.withHead) ({ shape: s, state } = hub.family.withHead(s, state, head, rng));
    else
      [s, state] = [
        { ...s, numClasses },
        { ...state, ...head },
      ];
  }
  const model = hub.family.build(s, state, { batchnorm: spec.batchnorm, seed });
  const activations = hub.family.activations?.(s, [inputShape[0], inputShape[1]]);
  return Object.assign(model, {
    hub: { folder: hub.folder, family: hub.family, config: hub.config, headReinitialised: reinit },
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
  const { family, headReinitialised } = model.hub;
  const config = family.savedConfig
    ? family.savedConfig(model.hub.config, model.shape, headReinitialised)
    : timmSavedConfig(model.hub.config, model.shape.numClasses, headReinitialised);
  const out: Record<string, string | Uint8Array> = {
    [CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
    [WEIGHTS_FILE]: encodeSafetensors(await model.stateDict(), { format: 'pt', ...metadata }),
  };
  // The tokenizer (and its side files) go with the weights, as transformers' save_pretrained puts them.
  for (const name of family.companions ?? []) {
    const file = path.join(model.hub.folder, name);
    if (fs.existsSync(file)) out[name] = fs.readFileSync(file);
  }
  return out;
}

function timmSavedConfig(source: HubConfig, classes: number, headReinitialised: boolean): HubConfig {
  const config: HubConfig = structuredClone(source);
  config.num_classes = classes;
  if (config.pretrained_cfg) config.pretrained_cfg = { ...config.pretrained_cfg, num_classes: classes };
  if (headReinitialised) {
    delete config.label_names;
    delete config.label_descriptions;
  }
  return config;
}
