/**
 * `aft predict`: a trained or imported student run on a batch of inputs from a .npy file, its
 * logits (and φ) written as .npy, so that a user can check an import or a trained model against
 * PyTorch on the same weights. The model is a student folder in timm's hub layout (what
 * `model: pretrained` reads and what a run saves), or a run's checkpoint of a method and seed.
 *
 * Inputs are what the PyTorch module's forward takes: for an image student [N, C, H, W] float32,
 * already resized and normalised; for a run's MLP or CNN, [N, ...] as its dataset gives them. Or
 * a folder of images (png, jpeg, webp), prepared as the model's own training prepared them (a
 * student folder's `pretrained_cfg`; a run's `input_size`, or its image dataset's size and
 * channels), one row per image in name order, the names written beside the logits.
 *
 * A text student (BERT, DistilBERT) takes token ids [N, T] int64 with `--attention-mask` (what
 * the transformers module's forward takes), or a .csv/.tsv/.jsonl whose texts its folder's
 * tokenizer.json tokenises (predict/textInputs.ts). A bare encoder has no head: only φ.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downstreamSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import { encodeNpy, readNpy, type NpyArray } from '../../../core/node/io/npy';
import { readSummary, resolveRunDir } from '../../../core/node/runs/store';
import { writeFileAtomic } from '../../../core/node/util/fsx';
import { badInput } from '../../../core/common/util/errors';
import { loadCheckpoint } from '../models/checkpoint';
import type { DownstreamModel } from '../models/downstream';
import { createModel } from '../models/model';
import { readHubFolder, studentImagePreprocess } from '../models/pretrained';
import { isImageFile, prepareStudentImage, studentShape, type StudentImages } from '../data/imageFolder';
import { mapLimit } from '../util/pool';
import { pickCheckpoint, readRunExperiment } from '../models/runCheckpoint';
import { encodeTable, npyTokens, TABLE_FILE, tableTexts } from './textInputs';
import { tf } from '../runtime/tf';

export interface PredictRequest {
  /** A student folder (config.json + model.safetensors), or a run folder or run id. */
  model: string;
  workspaceDir: string;
  /** For a run: which method's and seed's model (default: aft, else the first; the first seed). */
  method?: string;
  seed?: number;
  input: string;
  /** Text students: the attention mask of `input`'s token ids (.npy [N, T], 0 or 1; default all 1). */
  attentionMask?: string;
  /** Text students fed a table: the column of texts (default `text`, else the only non-numeric column). */
  textColumn?: string;
  /** Where the logits go (.npy, float32 [N, classes]). */
  out?: string;
  /** Where φ goes (.npy, float32 [N, features]). */
  features?: string;
  log: (message: string) => void;
}

export interface PredictReport {
  model: string;
  /** What was run: the architecture, or `<method> seed <s> (<model>)` of a run. */
  what: string;
  examples: number;
  written: { file: string; shape: number[] }[];
  seconds: number;
}

const BATCH = 64;

/** What the model runs on: a .npy batch, the images of a folder in name order, or the rows of a table of texts. */
type Inputs =
  | { kind: 'npy'; file: string; x: NpyArray }
  | { kind: 'images'; folder: string; files: string[] }
  | { kind: 'table'; file: string };

function readInputs(input: string): Inputs {
  if (TABLE_FILE.test(input)) return { kind: 'table', file: input };
  if (fs.existsSync(input) && fs.statSync(input).isDirectory()) {
    const files = fs
      .readdirSync(input)
      .filter(isImageFile)
      .sort()
      .map((n) => path.join(input, n));
    if (!files.length) throw badInput('no images (.png, .jpg, .jpeg, .webp) in this folder', { file: input });
    return { kind: 'images', folder: input, files };
  }
  const x = readNpy(input);
  if (x.shape[0] === undefined || x.shape[0] < 1)
    throw badInput(`expected at least one example, got shape [${x.shape.join(', ')}]`, { file: input, field: 'shape' });
  return { kind: 'npy', file: input, x };
}

/** The folder's images as `student` reads them (NHWC); a file that cannot be decoded is named. */
async function prepareImages(inputs: Inputs & { kind: 'images' }, student: StudentImages): Promise<Loaded['x']> {
  const [h, w, c] = studentShape(student);
  const size = h * w * c;
  const x = new Float32Array(inputs.files.length * size);
  await mapLimit(inputs.files, 8, async (file, i) => {
    try {
      await prepareStudentImage(await fs.promises.readFile(file), student, x, i * size);
    } catch (e) {
      throw badInput(`cannot read this image: ${(e as Error).message.split('\n')[0]}`, { file });
    }
  });
  return x;
}

/** The model to run, and the inputs in the engine's layout (images NHWC). */
interface Loaded {
  model: DownstreamModel;
  what: string;
  /** One example's shape in the engine's layout. */
  exampleShape: number[];
  x: Float32Array;
  /** A bare encoder (no classification head): φ only. */
  headless?: boolean;
}

function isHubFolder(p: string): boolean {
  return fs.existsSync(path.join(p, 'config.json')) && fs.statSync(p).isDirectory();
}

/** [N, C, H, W] → [N, H, W, C]. */
export function nchwToNhwc(a: { shape: number[]; data: ArrayLike<number> }): Float32Array {
  const [n, c, h, w] = a.shape;
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((i * h + y) * w + x) * c + ch] = a.data[((i * c + ch) * h + y) * w + x];
  return out;
}

function checkFloat(x: NpyArray, file: string): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64')
    throw badInput(`expected float32 inputs, got ${x.dtype}`, { file, field: 'dtype' });
}

/**
 * A student folder: an image model of any family reading [N, C, H, W] as PyTorch does, or images
 * as its pretrained_cfg says; a text model reading token ids and a mask, or a table's texts.
 */
async function loadFolder(
  folder: string,
  inputs: Inputs,
  spec?: DownstreamSpec,
  text: Pick<PredictRequest, 'attentionMask' | 'textColumn'> = {},
): Promise<Loaded> {
  const hub = readHubFolder(folder);
  const s = hub.shape;
  const what = `${s.arch} from ${folder}`;
  const studentSpec = downstreamSchema.parse({ ...(spec ?? { model: 'pretrained' }), folder, head: 'keep' });
  const input = hub.family.input(s);
  if (input.kind === 'tokens') {
    let batch: { x: Float32Array; length: number };
    if (inputs.kind === 'table') {
      const { texts } = tableTexts(inputs.file, text.textColumn);
      batch = await encodeTable(texts, path.join(folder, input.tokenizer), input.maxLength);
    } else if (inputs.kind === 'npy') {
      batch = npyTokens({ ...inputs.x, file: inputs.file }, text.attentionMask, {
        vocab: input.vocab,
        maxLength: input.maxLength,
        what: s.arch,
      });
    } else
      throw badInput(
        `the ${s.arch} reads text: give token ids X.npy [N, T] (with --attention-mask) or a .csv/.jsonl of texts`,
        {
          file: inputs.folder,
          field: '--input',
        },
      );
    const model = createModel(studentSpec, [batch.length], s.numClasses, 0, { vocabSize: input.vocab });
    return { model, what, exampleShape: [batch.length], x: batch.x, headless: s.numClasses === 0 };
  }
  if (text.attentionMask !== undefined)
    throw badInput(`--attention-mask is for text students; the ${s.arch} reads images`, { file: text.attentionMask });
  if (inputs.kind === 'table')
    throw badInput(`the ${s.arch} reads images: give X.npy [N, C, H, W] or a folder of images`, {
      file: inputs.file,
      field: '--input',
    });
  if (inputs.kind === 'images') {
    const preprocess = studentImagePreprocess({ folder, input_size: spec?.input_size }, folder);
    const student: StudentImages = { kind: 'preprocess', preprocess };
    const exampleShape = studentShape(student);
    const x = await prepareImages(inputs, student);
    const model = createModel(studentSpec, exampleShape, s.numClasses, 0);
    return { model, what, exampleShape, x };
  }
  const { x, file } = inputs;
  checkFloat(x, file);
  const [h, w] = input.size ?? ['H', 'W'];
  if (
    x.shape.length !== 4 ||
    x.shape[1] !== input.channels ||
    (input.size && (x.shape[2] !== input.size[0] || x.shape[3] !== input.size[1]))
  )
    throw badInput(
      `expected images [N, ${input.channels}, ${h}, ${w}] (what the PyTorch module's forward takes: resized and normalised), got [${x.shape.join(', ')}]`,
      { file, field: 'shape' },
    );
  const [, c, ih, iw] = x.shape;
  const model = createModel(studentSpec, [ih, iw, c], s.numClasses, 0);
  return { model, what, exampleShape: [ih, iw, c], x: nchwToNhwc(x) };
}

/** A run's checkpoint of a method and seed. */
async function loadRun(req: PredictRequest, inputs: Inputs): Promise<Loaded> {
  const runDir = resolveRunDir(req.model, path.resolve(req.workspaceDir), { file: 'aft predict', field: 'MODEL' });
  const exp = readRunExperiment(runDir);
  const ck = pickCheckpoint(runDir, exp, req.method, req.seed);
  const label = `${ck.method} seed ${ck.seed} (${exp.downstream.model}) of ${path.basename(runDir)}`;
  if (exp.downstream.model === 'pretrained') {
    const loaded = await loadFolder(ck.file, inputs, exp.downstream, req);
    return { ...loaded, what: label };
  }
  if (exp.downstream.model === 'transformer' || exp.downstream.model === 'two-tower')
    throw badInput(
      `aft predict runs image and array students; this run trained a ${exp.downstream.model === 'transformer' ? 'text transformer' : 'two-tower image + text model'}`,
      {
        file: runDir,
        field: 'downstream.model',
      },
    );
  const summary = readSummary(runDir);
  if (!summary) throw badInput('the run has no summary.json (did it complete?)', { file: runDir });
  const want = summary.dataset.inputShape;
  let x: Float32Array;
  if (inputs.kind === 'table')
    throw badInput(
      `this run's ${exp.downstream.model} reads arrays, not texts: give --input X.npy [N, ${want.join(', ')}]`,
      {
        file: inputs.file,
      },
    );
  if (inputs.kind === 'images') {
    const ds = exp.dataset;
    if (ds.source !== 'images')
      throw badInput(
        `this run's ${exp.downstream.model} was trained on ${ds.source} arrays, not images: give --input X.npy [N, ${want.join(', ')}]`,
        { file: inputs.folder },
      );
    x = await prepareImages(inputs, {
      kind: 'size',
      height: want[0],
      width: want[1],
      channels: want[2] === 1 ? 1 : 3,
    });
  } else {
    checkFloat(inputs.x, inputs.file);
    const shape = inputs.x.shape;
    if (shape.length !== want.length + 1 || shape.slice(1).some((d, i) => d !== want[i]))
      throw badInput(
        `expected inputs [N, ${want.join(', ')}] as the run's dataset gives them, got [${shape.join(', ')}]`,
        {
          file: inputs.file,
          field: 'shape',
        },
      );
    x = Float32Array.from(inputs.x.data);
  }
  const model = createModel(exp.downstream, want, summary.dataset.classes, 0);
  try {
    loadCheckpoint(model, ck.file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, what: label, exampleShape: want, x };
}

export async function predict(req: PredictRequest): Promise<PredictReport> {
  if (!req.out && !req.features) throw badInput('aft predict needs --out LOGITS.npy, --features F.npy or both');
  const started = performance.now();
  const inputs = readInputs(path.resolve(req.input));
  const modelPath = path.resolve(req.model);
  const loaded = isHubFolder(modelPath)
    ? await loadFolder(modelPath, inputs, undefined, req)
    : await loadRun(req, inputs);
  const { model } = loaded;
  if (loaded.headless && req.out) {
    model.dispose();
    throw badInput(
      `${loaded.what} is a bare encoder without a classification head: there are no logits; leave --out out and use --features`,
      { file: req.out, field: '--out' },
    );
  }
  const size = loaded.exampleShape.reduce((a, b) => a * b, 1);
  const n = loaded.x.length / size;
  let logits: Float32Array | undefined;
  let phi: Float32Array | undefined;
  let classes = 0;
  try {
    for (let s = 0; s < n; s += BATCH) {
      const b = Math.min(BATCH, n - s);
      const out = tf.tidy(() => {
        const o = model.forward(tf.tensor(loaded.x.subarray(s * size, (s + b) * size), [b, ...loaded.exampleShape]));
        return [o.logits, o.phi];
      });
      let l: Float32Array;
      let f: Float32Array;
      try {
        l = (await out[0].data()) as Float32Array;
        f = (await out[1].data()) as Float32Array;
      } finally {
        tf.dispose(out);
      }
      classes = l.length / b;
      logits ??= new Float32Array(n * classes);
      phi ??= new Float32Array(n * (f.length / b));
      logits.set(l, s * classes);
      phi.set(f, s * (f.length / b));
    }
  } finally {
    model.dispose();
  }
  const written: PredictReport['written'] = [];
  const write = (file: string, data: Float32Array, shape: number[]): void => {
    const out = path.resolve(file);
    writeFileAtomic(out, encodeNpy(data, shape));
    written.push({ file: out, shape });
  };
  if (req.out) write(req.out, logits!, [n, classes]);
  if (req.features) write(req.features, phi!, [n, phi!.length / n]);
  if (inputs.kind === 'images') {
    // Which image each row is: the names in the order of the rows.
    const first = written[0].file;
    const list = `${first.replace(/\.npy$/i, '')}.files.txt`;
    writeFileAtomic(list, inputs.files.map((f) => path.basename(f)).join('\n') + '\n');
    written.push({ file: list, shape: [n] });
  }
  return { model: modelPath, what: loaded.what, examples: n, written, seconds: (performance.now() - started) / 1000 };
}
