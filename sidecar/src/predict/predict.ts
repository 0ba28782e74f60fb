/**
 * `aft predict`: a trained or imported student run on a batch of inputs from a .npy file, its
 * logits (and φ) written as .npy, so that a user can check an import or a trained model against
 * PyTorch on the same weights. The model is a student folder in timm's hub layout (what
 * `model: pretrained` reads and what a run saves), or a run's checkpoint of a method and seed.
 *
 * Inputs are what the PyTorch module's forward takes: for an image student [N, C, H, W] float32, already
 * resized and normalised; for a run's MLP or CNN, [N, ...] as its dataset gives them.
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
import { readHubFolder } from '../models/pretrained';
import { pickCheckpoint, readRunExperiment } from '../models/runCheckpoint';
import { tf } from '../runtime/tf';

export interface PredictRequest {
  /** A student folder (config.json + model.safetensors), or a run folder or run id. */
  model: string;
  workspaceDir: string;
  /** For a run: which method's and seed's model (default: aft, else the first; the first seed). */
  method?: string;
  seed?: number;
  input: string;
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

/** The model to run, and the inputs in the engine's layout (images NHWC). */
interface Loaded {
  model: DownstreamModel;
  what: string;
  /** One example's shape in the engine's layout. */
  exampleShape: number[];
  x: Float32Array;
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

/** A student folder: an image model of any family reading [N, C, H, W] as PyTorch does. */
function loadFolder(folder: string, x: NpyArray, inputFile: string, spec?: DownstreamSpec): Loaded {
  const hub = readHubFolder(folder);
  const s = hub.shape;
  const input = hub.family.input(s);
  checkFloat(x, inputFile);
  const [h, w] = input.size ?? ['H', 'W'];
  if (
    x.shape.length !== 4 ||
    x.shape[1] !== input.channels ||
    (input.size && (x.shape[2] !== input.size[0] || x.shape[3] !== input.size[1]))
  )
    throw badInput(
      `expected images [N, ${input.channels}, ${h}, ${w}] (what the PyTorch module's forward takes: resized and normalised), got [${x.shape.join(', ')}]`,
      { file: inputFile, field: 'shape' },
    );
  const [, c, ih, iw] = x.shape;
  const studentSpec = downstreamSchema.parse({ ...(spec ?? { model: 'pretrained' }), folder, head: 'keep' });
  const model = createModel(studentSpec, [ih, iw, c], s.numClasses, 0);
  return { model, what: `${s.arch} from ${folder}`, exampleShape: [ih, iw, c], x: nchwToNhwc(x) };
}

/** A run's checkpoint of a method and seed. */
function loadRun(req: PredictRequest, x: NpyArray): Loaded {
  const runDir = resolveRunDir(req.model, path.resolve(req.workspaceDir), { file: 'aft predict', field: 'MODEL' });
  const exp = readRunExperiment(runDir);
  const ck = pickCheckpoint(runDir, exp, req.method, req.seed);
  const label = `${ck.method} seed ${ck.seed} (${exp.downstream.model}) of ${path.basename(runDir)}`;
  if (exp.downstream.model === 'pretrained') {
    const loaded = loadFolder(ck.file, x, req.input, exp.downstream);
    return { ...loaded, what: label };
  }
  if (exp.downstream.model === 'transformer')
    throw badInput('aft predict runs image and array students; this run trained a text transformer', {
      file: runDir,
      field: 'downstream.model',
    });
  const summary = readSummary(runDir);
  if (!summary) throw badInput('the run has no summary.json (did it complete?)', { file: runDir });
  const want = summary.dataset.inputShape;
  checkFloat(x, req.input);
  if (x.shape.length !== want.length + 1 || x.shape.slice(1).some((d, i) => d !== want[i]))
    throw badInput(
      `expected inputs [N, ${want.join(', ')}] as the run's dataset gives them, got [${x.shape.join(', ')}]`,
      { file: req.input, field: 'shape' },
    );
  const model = createModel(exp.downstream, want, summary.dataset.classes, 0);
  try {
    loadCheckpoint(model, ck.file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, what: label, exampleShape: want, x: Float32Array.from(x.data) };
}

export async function predict(req: PredictRequest): Promise<PredictReport> {
  if (!req.out && !req.features) throw badInput('aft predict needs --out LOGITS.npy, --features F.npy or both');
  const started = performance.now();
  const x = readNpy(req.input);
  if (x.shape[0] === undefined || x.shape[0] < 1)
    throw badInput(`expected at least one example, got shape [${x.shape.join(', ')}]`, {
      file: req.input,
      field: 'shape',
    });
  const modelPath = path.resolve(req.model);
  const loaded = isHubFolder(modelPath) ? loadFolder(modelPath, x, req.input) : loadRun(req, x);
  const { model } = loaded;
  const n = x.shape[0];
  const size = loaded.exampleShape.reduce((a, b) => a * b, 1);
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
  return { model: modelPath, what: loaded.what, examples: n, written, seconds: (performance.now() - started) / 1000 };
}
