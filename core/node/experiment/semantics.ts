/**
 * Checks that need the whole experiment (or the file system) rather than one field: names used
 * twice, methods that need sources or data the file lacks (methodNeeds.ts), β entries for
 * unknown methods, missing files.
 */
import * as path from 'node:path';
import { arrayProblems, pathKind, type FileProbe } from './arrays';
import { methodNeedsProblems, tuneSplit, type DataFacts } from './methodNeeds';
import { onnxProblems } from './onnxNames';
import { betaGrid, NEEDS_PRETRAINED, resolveMethods } from './methods';
import type { SemanticProblem } from './problem';
import { closest } from '../../common/util/suggest';
import { modalityUnknownMessage, sourceModality } from './modality';
import { MAX_PRODUCT_WIDTH, towerSpecs, type Experiment } from './schema';

/** Paths in the experiment that must exist, with where they are in the file. */
export function referencedPaths(exp: Experiment): { path: (string | number)[]; file: string }[] {
  const out: { path: (string | number)[]; file: string }[] = [];
  const ds = exp.dataset;
  if (ds.source === 'npy') {
    for (const split of ['train', 'test'] as const) {
      out.push({ path: ['dataset', split, 'inputs'], file: ds[split].inputs });
      out.push({ path: ['dataset', split, 'labels'], file: ds[split].labels });
    }
  }
  if (ds.source === 'images') out.push({ path: ['dataset', 'folder'], file: ds.folder });
  if (ds.source === 'text' || ds.source === 'paired') {
    for (const key of ['train', 'test', 'tokenizer'] as const) {
      const file = ds[key];
      if (file !== undefined) out.push({ path: ['dataset', key], file });
    }
  }
  exp.pretrained.forEach((s, i) => {
    if ('features' in s) {
      out.push({ path: ['pretrained', i, 'features', 'train'], file: s.features.train });
      out.push({ path: ['pretrained', i, 'features', 'test'], file: s.features.test });
    }
    if ('onnx' in s) {
      for (const key of ['folder', 'model', 'tokenizer'] as const) {
        const file = s.onnx[key];
        if (file !== undefined) out.push({ path: ['pretrained', i, 'onnx', key], file });
      }
    }
  });
  if (exp.downstream.init !== 'random') out.push({ path: ['downstream', 'init'], file: exp.downstream.init });
  if (exp.downstream.folder !== undefined) out.push({ path: ['downstream', 'folder'], file: exp.downstream.folder });
  return out;
}

/** A copy of the experiment with every referenced path absolute (what the run store keeps). */
export function resolvePaths(exp: Experiment, baseDir: string): Experiment {
  const copy = structuredClone(exp);
  for (const ref of referencedPaths(exp)) {
    let node = copy as unknown as Record<string | number, unknown>;
    for (const key of ref.path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[ref.path[ref.path.length - 1]] = path.resolve(baseDir, ref.file);
  }
  return copy;
}

/** Checks of the feature-extraction and downstream fields that no single field shows. */
function modelProblems(exp: Experiment): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  exp.pretrained.forEach((s, i) => {
    if ('onnx' in s && s.onnx.folder === undefined && s.onnx.model === undefined) {
      problems.push({
        path: ['pretrained', i, 'onnx'],
        message: 'an onnx source needs `folder` (a Hugging Face ONNX folder) or `model` (an .onnx file)',
      });
    }
  });
  const d = exp.downstream;
  if (d.model === 'transformer') {
    if (exp.dataset.source !== 'text')
      problems.push({
        path: ['downstream', 'model'],
        message: `the transformer reads token ids; it needs a \`text\` dataset, not \`${exp.dataset.source}\``,
      });
    if (d.width % d.heads !== 0)
      problems.push({ path: ['downstream', 'heads'], message: `${d.heads} heads do not divide the width ${d.width}` });
  } else if (exp.dataset.source === 'text' && d.model !== 'pretrained') {
    // A pretrained student reads text when its folder is a BERT or DistilBERT: the run checks the folder.
    problems.push({
      path: ['downstream', 'model'],
      message: `text datasets need \`model: transformer\` or a pre-trained text student (\`model: pretrained\` with a BERT or DistilBERT folder); the ${d.model} cannot read token ids`,
    });
  }
  problems.push(...twoTowerProblems(exp));
  if (d.model === 'pretrained') {
    if (d.folder === undefined && d.builtin === undefined)
      problems.push({
        path: ['downstream', 'model'],
        message:
          "`model: pretrained` needs `folder`: a local folder with config.json and model.safetensors (timm's hub layout, or a transformers BERT/DistilBERT folder with its tokenizer.json), or `builtin: mnist-resnet`",
      });
    if (d.folder !== undefined && d.builtin !== undefined)
      problems.push({
        path: ['downstream', 'builtin'],
        message: 'give `folder` or `builtin`, not both',
      });
    if (d.init !== 'random')
      problems.push({
        path: ['downstream', 'init'],
        message:
          "a pretrained student's weights come from `folder`; to start from a trained student, set `folder` to its run checkpoint folder (checkpoints/<method>-seed-<seed>/)",
      });
    if (exp.dataset.source === 'images' && exp.dataset.grayscale)
      problems.push({
        path: ['dataset', 'grayscale'],
        message: 'ignored by a pretrained student: it reads the channels its pretrained_cfg says',
        severity: 'warning',
      });
  } else {
    if (d.weights !== 'pretrained')
      problems.push({
        path: ['downstream', 'weights'],
        message: `only read with \`model: pretrained\` (this model is \`${d.model}\`; its \`init\` says how it starts)`,
        severity: 'warning',
      });
    for (const key of ['folder', 'input_size', 'builtin'] as const) {
      if (d[key] !== undefined)
        problems.push({
          path: ['downstream', key],
          message: `only read with \`model: pretrained\` (this model is \`${d.model}\`)`,
          severity: 'warning',
        });
    }
  }
  return problems;
}

/** The two-tower model and paired datasets go together; the towers' fields only with the model. */
function twoTowerProblems(exp: Experiment): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const d = exp.downstream;
  const paired = exp.dataset.source === 'paired';
  if (d.model === 'two-tower') {
    if (!paired)
      problems.push({
        path: ['downstream', 'model'],
        message: `the two-tower model reads an image and a text per example; it needs a \`paired\` dataset, not \`${exp.dataset.source}\``,
      });
    const { text } = towerSpecs(d);
    if (text.width % text.heads !== 0)
      problems.push({
        path: ['downstream', 'text', ...(d.text?.heads !== undefined ? ['heads'] : [])],
        message: `${text.heads} heads do not divide the text tower's width ${text.width}`,
      });
  } else {
    if (paired)
      problems.push({
        path: ['downstream', 'model'],
        message: `paired datasets need \`model: two-tower\` (the ${d.model} cannot read an image and a text per example)`,
      });
    for (const key of ['image', 'text'] as const) {
      if (d[key] !== undefined)
        problems.push({
          path: ['downstream', key],
          message: `only read with \`model: two-tower\` (this model is \`${d.model}\`)`,
          severity: 'warning',
        });
    }
  }
  if (exp.dataset.source === 'paired') {
    const ds = exp.dataset;
    exp.pretrained.forEach((s, i) => {
      if ('builtin' in s && (ds.size[0] !== 28 || ds.size[1] !== 28 || !ds.grayscale))
        problems.push({
          path: ['pretrained', i, 'builtin'],
          message: `${s.builtin} reads 28x28 grey digits; of a paired dataset it reads the image tower's pixels, so set \`dataset.size: [28, 28]\` and \`dataset.grayscale: true\` (these are ${ds.size.join('x')}${ds.grayscale ? ' grey' : ' RGB'})`,
        });
    });
  } else {
    exp.pretrained.forEach((s, i) => {
      if ('onnx' in s && s.onnx.modality !== undefined)
        problems.push({
          path: ['pretrained', i, 'onnx', 'modality'],
          message: `only read with a \`paired\` dataset (this one is \`${exp.dataset.source}\`)`,
          severity: 'warning',
        });
    });
  }
  return problems;
}

/**
 * A `product` names two other sources of the list that are not products themselves; where both
 * widths are known (noise, precomputed features), its width is D_a·D_b, bounded. Fills in
 * `widths` for the products it can.
 */
function productProblems(exp: Experiment, widths: (number | undefined)[]): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const index = new Map(exp.pretrained.map((s, i) => [s.name, i]));
  exp.pretrained.forEach((s, i) => {
    if (!('product' in s)) return;
    const found = s.product.map((n, k) => {
      const j = index.get(n);
      const at = ['pretrained', i, 'product', k];
      if (j === undefined || j === i) {
        const others = exp.pretrained.filter((o, m) => m !== i && !('product' in o)).map((o) => o.name);
        const guess = closest(n, others);
        problems.push({
          path: at,
          message: `\`${n}\` is not another source of this list${guess ? ` (did you mean \`${guess}\`?)` : others.length ? ` (the sources: ${others.join(', ')})` : ''}`,
          ...(guess ? { suggestion: guess } : {}),
        });
        return undefined;
      }
      if ('product' in exp.pretrained[j]) {
        problems.push({ path: at, message: `\`${n}\` is itself a product; a product multiplies two plain sources` });
        return undefined;
      }
      return j;
    });
    const [a, b] = found.map((j) => (j === undefined ? undefined : widths[j]));
    if (a === undefined || b === undefined) return;
    widths[i] = a * b;
    if (a * b > MAX_PRODUCT_WIDTH)
      problems.push({
        path: ['pretrained', i, 'product'],
        message: `the product would be ${a} × ${b} = ${a * b} features wide; at most ${MAX_PRODUCT_WIDTH}`,
      });
  });
  return problems;
}

/** Each onnx source of a paired dataset must say, or show by its files, which half it reads. */
function modalityProblems(
  exp: Experiment,
  baseDir: string,
  kind: (f: string) => string | undefined,
): SemanticProblem[] {
  if (exp.dataset.source !== 'paired') return [];
  const problems: SemanticProblem[] = [];
  exp.pretrained.forEach((s, i) => {
    if (!('onnx' in s) || s.onnx.modality !== undefined) return;
    const folder = s.onnx.folder !== undefined ? path.resolve(baseDir, s.onnx.folder) : undefined;
    const inFolder = (name: string): boolean => folder !== undefined && kind(path.join(folder, name)) === 'file';
    const has = {
      tokenizer: s.onnx.tokenizer !== undefined || inFolder('tokenizer.json'),
      preprocessor: inFolder('preprocessor_config.json'),
    };
    if (!sourceModality(s.onnx, has))
      problems.push({ path: ['pretrained', i, 'onnx'], message: modalityUnknownMessage(has) });
  });
  return problems;
}

/**
 * Problems no single field shows. With `baseDir`, referenced files must exist; with `files` too,
 * their headers are checked against each other and the dataset (see `arrays.ts`).
 */
export function semanticProblems(exp: Experiment, baseDir?: string, files?: FileProbe): SemanticProblem[] {
  const problems: SemanticProblem[] = modelProblems(exp);
  const seenSources = new Map<string, number>();
  exp.pretrained.forEach((s, i) => {
    const first = seenSources.get(s.name);
    if (first !== undefined) {
      problems.push({
        path: ['pretrained', i, 'name'],
        message: `source name \`${s.name}\` is already used by pretrained[${first}]`,
      });
    } else seenSources.set(s.name, i);
  });
  const methods = resolveMethods(exp);
  const seenMethods = new Map<string, number>();
  methods.forEach((m, i) => {
    const first = seenMethods.get(m.name);
    if (first !== undefined) {
      problems.push({
        path: ['methods', i],
        message: `method \`${m.name}\` is listed twice (also methods[${first}]); give the second a different \`name\``,
      });
    } else seenMethods.set(m.name, i);
    if (NEEDS_PRETRAINED.has(m.kind) && exp.pretrained.length === 0) {
      problems.push({
        path: ['methods', i],
        message: `method \`${m.name}\` (${m.kind}) needs at least one entry under \`pretrained\``,
      });
    }
  });
  for (const key of Object.keys(exp.beta)) {
    const m = methods.find((x) => x.name === key);
    if (!m) {
      problems.push({
        path: ['beta'],
        key,
        message: `β given for \`${key}\`, which is not in \`methods\` (${methods.map((x) => x.name).join(', ')})`,
        severity: 'warning',
      });
    } else if (m.kind === 'stl') {
      problems.push({
        path: ['beta'],
        key,
        message: '`stl` has no regulariser, so its β is ignored',
        severity: 'warning',
      });
    }
  }
  let trainSize: number | undefined;
  const sourceWidths = exp.pretrained.map((s) => ('noise' in s ? s.noise : undefined));
  if (exp.dataset.source === 'mnist') {
    const ds = exp.dataset;
    if (ds.train + ds.test > 4000) {
      problems.push({
        path: ['dataset', 'test'],
        message: `train + test = ${ds.train + ds.test}, but only 4000 MNIST digits are not reserved for the teacher`,
      });
    }
    trainSize = ds.train;
  }
  if (baseDir !== undefined) {
    const kind = files ? (f: string) => files.kind(f) : pathKind;
    for (const ref of referencedPaths(exp)) {
      const abs = path.resolve(baseDir, ref.file);
      const want = ref.path[ref.path.length - 1] === 'folder' ? 'folder' : 'file';
      const found = kind(abs);
      if (found === undefined) problems.push({ path: ref.path, message: `${want} not found: ${abs}` });
      else if (found !== want)
        problems.push({
          path: ref.path,
          message: `expected a ${want}, found ${found === 'other' ? 'a device, FIFO or socket' : `a ${found}`}: ${abs}`,
        });
    }
    problems.push(...modalityProblems(exp, baseDir, kind));
    if (files) {
      const arrays = arrayProblems(exp, baseDir, files);
      problems.push(...arrays.problems, ...onnxProblems(exp, baseDir, files));
      trainSize ??= arrays.trainSize;
      for (const [i, width] of arrays.featureWidths) sourceWidths[i] = width;
    }
  }
  problems.push(...productProblems(exp, sourceWidths));
  // Only β tuning trains on less than the training split; otherwise the engine takes at most the
  // whole split per batch.
  if (trainSize !== undefined && methods.some((m) => betaGrid(exp, m).length > 1)) {
    const tuneTrain = tuneSplit(trainSize, exp.tune.holdout).train;
    if (exp.train.batch > tuneTrain) {
      problems.push({
        path: ['train', 'batch'],
        message: `batch ${exp.train.batch} is larger than the ${tuneTrain} examples left for training while β is tuned (train ${trainSize} minus the ${Math.round(exp.tune.holdout * 100)}% holdout)`,
      });
    }
  }
  const facts: DataFacts = { sourceWidths, ...(trainSize !== undefined ? { trainSize } : {}), ...classCount(exp) };
  const uses = methods.map((method, index) => {
    const entry = exp.methods[index];
    const given =
      typeof entry === 'string'
        ? {}
        : {
            ...(entry.kernel ? { kernel: entry.kernel } : {}),
            ...(entry.rho ? { rho: entry.rho } : {}),
            ...(entry.prior_steps !== undefined ? { prior_steps: entry.prior_steps } : {}),
          };
    return { method, index, tuned: betaGrid(exp, method).length > 1, given };
  });
  problems.push(
    ...methodNeedsProblems(
      uses,
      facts,
      exp.tune.holdout,
      exp.pretrained.map((s) => s.name),
    ),
  );
  return problems;
}

/** The number of classes, where the file says it without the data. */
function classCount(exp: Experiment): { classes?: number } {
  const ds = exp.dataset;
  if (ds.source === 'mnist') return { classes: 10 };
  if ((ds.source === 'npy' || ds.source === 'text' || ds.source === 'paired') && ds.classes !== undefined)
    return { classes: typeof ds.classes === 'number' ? ds.classes : ds.classes.length };
  return {};
}
