import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetSpec, Experiment } from '../../../core/node/experiment/schema';
import { badInput } from '../../../core/common/util/errors';
import { checkClasses, type Dataset } from './dataset';
import { readHubConfig, studentImagePreprocess, studentInputOf } from '../models/pretrained';
import { loadImageFolder, type StudentImages } from './imageFolder';
import { loadMnist } from './mnist';
import { loadNpyDataset } from './npyDataset';
import { loadPairedDataset } from './paired';
import { loadTextDataset } from './text';

/**
 * The tokenizer a text (or paired) dataset's downstream ids come from: a pre-trained text
 * student's own (its folder's tokenizer.json), else the dataset's own `tokenizer`, else that of
 * the first `onnx` source that has one (its `tokenizer`, or `<folder>/tokenizer.json`).
 */
export function textTokenizerFile(
  exp: Pick<Experiment, 'dataset' | 'pretrained'> & { downstream?: Experiment['downstream'] },
  baseDir: string,
): string {
  const student = textStudent(exp, baseDir);
  if (student) return student.tokenizer;
  if ((exp.dataset.source === 'text' || exp.dataset.source === 'paired') && exp.dataset.tokenizer !== undefined)
    return path.resolve(baseDir, exp.dataset.tokenizer);
  for (const s of exp.pretrained) {
    if (!('onnx' in s)) continue;
    if (s.onnx.tokenizer !== undefined) return path.resolve(baseDir, s.onnx.tokenizer);
    if (s.onnx.folder !== undefined) {
      const f = path.resolve(baseDir, s.onnx.folder, 'tokenizer.json');
      if (fs.existsSync(f)) return f;
    }
  }
  throw badInput(
    `a ${exp.dataset.source} dataset needs a tokenizer: set \`dataset.tokenizer\`, or use an \`onnx\` source whose folder has tokenizer.json`,
    { file: '<experiment>', field: 'dataset.tokenizer' },
  );
}

/** A `pretrained` student that reads text: its tokenizer.json and how many positions it has. */
function textStudent(
  exp: { downstream?: Experiment['downstream'] },
  baseDir: string,
): { tokenizer: string; maxLength: number } | undefined {
  const d = exp.downstream;
  if (d?.model !== 'pretrained' || d.folder === undefined) return undefined;
  const folder = path.resolve(baseDir, d.folder);
  // Only a transformers folder can read text: a timm folder's weights are not read here.
  if (readHubConfig(folder).family.configKey !== 'model_type') return undefined;
  const { input } = studentInputOf(folder);
  return input.kind === 'tokens'
    ? { tokenizer: path.join(folder, input.tokenizer), maxLength: input.maxLength }
    : undefined;
}

/**
 * Loads the dataset an experiment names, validated (shapes, labels, finite values, images, text).
 * With a `pretrained` student, images are prepared as its config.json's `pretrained_cfg` says.
 */
export async function loadExperimentDataset(
  exp: Pick<Experiment, 'dataset' | 'pretrained'> & { downstream?: Experiment['downstream'] },
  baseDir: string,
  log: (m: string, level?: 'info' | 'warn') => void = () => {},
): Promise<Dataset> {
  const spec = exp.dataset;
  let ds: Dataset;
  switch (spec.source) {
    case 'images': {
      let student: StudentImages | undefined;
      if (exp.downstream?.model === 'pretrained') {
        const p = studentImagePreprocess(exp.downstream, baseDir);
        const resize =
          p.resize?.mode === 'shortest'
            ? `shortest edge ${p.resize.edge}`
            : p.resize
              ? `${p.resize.height}x${p.resize.width} (${p.resize.mode === 'exact' ? 'stretched' : 'covered'})`
              : 'none';
        log(
          `student images as its pretrained_cfg says: resize ${resize} (${p.resample}), centre crop ${p.height}x${p.width}, mean [${p.mean?.join(', ')}], std [${p.std?.join(', ')}]`,
        );
        student = { kind: 'preprocess', preprocess: p };
      }
      ds = await loadImageFolder(spec, baseDir, log, student);
      break;
    }
    case 'text': {
      // A text student's positions cap the length its ids are cut to (the teachers tokenise the texts themselves).
      const student = textStudent(exp, baseDir);
      if (student && spec.max_length > student.maxLength)
        log(
          `texts cut to ${student.maxLength} tokens for the student (its max_position_embeddings), not ${spec.max_length}`,
        );
      const capped = student ? { ...spec, max_length: Math.min(spec.max_length, student.maxLength) } : spec;
      ds = await loadTextDataset(capped, baseDir, textTokenizerFile(exp, baseDir));
      break;
    }
    case 'paired':
      ds = await loadPairedDataset(spec, baseDir, textTokenizerFile(exp, baseDir));
      break;
    default:
      ds = loadDataset(spec, baseDir);
  }
  checkClasses(ds, log);
  return ds;
}

/** Loads an array dataset (mnist, npy) synchronously. */
export function loadDataset(
  spec: Exclude<DatasetSpec, { source: 'images' | 'text' | 'paired' }>,
  baseDir: string,
): Dataset {
  switch (spec.source) {
    case 'mnist':
      return loadMnist(spec.train, spec.test, spec.split_seed);
    case 'npy':
      return loadNpyDataset(spec, baseDir);
  }
}

/** Seed that fixes per-example features such as noise (same for every method and seed). */
export function datasetSeed(spec: DatasetSpec): number {
  return spec.source === 'npy' ? 0 : spec.split_seed;
}
