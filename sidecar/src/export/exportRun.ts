/**
 * `aft export`: a trained downstream model from the run store to an ONNX file, verified against
 * the tfjs model on the test split (max |Δ logit| ≤ 1e-4), with the inference cost of the small
 * model next to the pre-trained models' in onnxruntime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../data/dataset';
import { loadExperimentDataset } from '../data/load';
import { experimentSchema, type Experiment } from '../experiment/schema';
import { onnxSourceRefs } from '../features/sources';
import { resolveOnnxFiles } from '../features/onnxSource';
import { loadTokenizer } from '../data/tokenizer';
import { readPreprocessorConfig, resolveImagePreprocess } from '../features/imagePreprocess';
import { imageBatches, tensorBatches, textBatches } from '../features/onnxInputs';
import { readSafetensors } from '../io/safetensors';
import { loadCheckpoint } from '../models/checkpoint';
import { createModel } from '../models/model';
import { OnnxSession, type OnnxDevice } from '../runtime/onnx';
import { tf } from '../runtime/tf';
import { AftError, badInput } from '../util/errors';
import { writeFileAtomic } from '../util/fsx';
import { onnxParameterCount, msPerExample } from './cost';
import { exportDownstream, parameterCount } from './downstream';
import { OPSET } from './proto';

export const EXPORT_TOLERANCE = 1e-4;

export interface ExportOptions {
  runDir: string;
  method?: string;
  seed?: number;
  out: string;
  /** Execution provider for the verification and timings. */
  device?: OnnxDevice;
  /** Examples per timed call. */
  batch?: number;
  log: (message: string) => void;
}

export interface ModelCost {
  name: string;
  kind: 'downstream' | 'pretrained';
  parameters: number | null;
  msPerExample: number;
}

export interface ExportReport {
  file: string;
  bytes: number;
  opset: number;
  method: string;
  seed: number;
  model: string;
  checkpoint: string;
  verification: { examples: number; maxAbsDiff: number; tolerance: number; provider: string };
  cost: { provider: string; batch: number; models: ModelCost[] };
}

function readExperiment(runDir: string): Experiment {
  const file = path.join(runDir, 'experiment.json');
  if (!fs.existsSync(file)) throw badInput('not a run folder (no experiment.json)', { file: runDir });
  const parsed = experimentSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) throw badInput(`the run's experiment.json does not match this version of aft: ${parsed.error.issues[0]?.message ?? ''}`, { file });
  return parsed.data;
}

function pickCheckpoint(runDir: string, exp: Experiment, method?: string, seed?: number): { file: string; method: string; seed: number } {
  const dir = path.join(runDir, 'checkpoints');
  const have = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')) : [];
  const names = have.map((f) => f.replace(/\.safetensors$/, ''));
  const m = method ?? (names.some((n) => n.startsWith('aft-seed-')) ? 'aft' : names[0]?.replace(/-seed-\d+$/, ''));
  const s = seed ?? exp.seeds[0] ?? 0;
  const file = path.join(dir, `${m}-seed-${s}.safetensors`);
  if (m === undefined || !fs.existsSync(file)) {
    throw badInput(`no checkpoint for ${m ?? 'any method'} seed ${s}; this run has: ${names.join(', ') || 'none (did it complete?)'}`, { file: runDir });
  }
  return { file, method: m, seed: s };
}

/** Logits of the tfjs model on the test split, in chunks. */
function tfjsLogits(exp: Experiment, ds: Dataset, checkpoint: string): Float32Array {
  const model = createModel(exp.downstream, ds.inputShape, ds.numClasses, 0, ds.vocabSize);
  try {
    loadCheckpoint(model, checkpoint);
    const width = ds.inputShape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(ds.test.n * ds.numClasses);
    for (let s = 0; s < ds.test.n; s += 256) {
      const n = Math.min(256, ds.test.n - s);
      out.set(tf.tidy(() => model.forward(tf.tensor(ds.test.x.subarray(s * width, (s + n) * width), [n, ...ds.inputShape])).logits.dataSync() as Float32Array), s * ds.numClasses);
    }
    return out;
  } finally {
    model.dispose();
  }
}

export async function exportRun(opts: ExportOptions): Promise<ExportReport> {
  const exp = readExperiment(opts.runDir);
  if (exp.downstream.model === 'transformer') throw badInput('export supports the mlp and cnn downstream models; this run trained a transformer', { file: opts.runDir, field: 'downstream.model' });
  const ck = pickCheckpoint(opts.runDir, exp, opts.method, opts.seed);
  // Runs store absolute paths; older runs are resolved against their workspace.
  const workspace = path.resolve(opts.runDir, '..', '..', '..');
  const ds = await loadExperimentDataset(exp, workspace, opts.log);
  const weights = readSafetensors(ck.file).tensors;
  const bytes = exportDownstream(weights, { kind: exp.downstream.model, inputShape: ds.inputShape, channels: exp.downstream.channels, hidden: exp.downstream.hidden, numClasses: ds.numClasses }, { method: ck.method, seed: String(ck.seed), run: path.basename(opts.runDir) });
  const out = path.resolve(opts.out);
  writeFileAtomic(out, bytes);
  const device = opts.device ?? 'auto';
  const batch = opts.batch ?? 32;

  const session = await OnnxSession.open(out, { device, log: opts.log });
  let verification: ExportReport['verification'];
  let small: ModelCost;
  try {
    const ref = tfjsLogits(exp, ds, ck.file);
    const width = ds.inputShape.reduce((a, b) => a * b, 1);
    let maxAbsDiff = 0;
    for (let s = 0; s < ds.test.n; s += 256) {
      const n = Math.min(256, ds.test.n - s);
      const got = (await session.run({ input: { type: 'float32', data: ds.test.x.slice(s * width, (s + n) * width), dims: [n, ...ds.inputShape] } }, ['logits'])).logits.data as Float32Array;
      for (let i = 0; i < got.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - ref[s * ds.numClasses + i]));
    }
    verification = { examples: ds.test.n, maxAbsDiff, tolerance: EXPORT_TOLERANCE, provider: session.provider };
    if (!(maxAbsDiff <= EXPORT_TOLERANCE)) {
      fs.rmSync(out, { force: true });
      throw new AftError('run_failed', `the exported model differs from the trained one by ${maxAbsDiff} > ${EXPORT_TOLERANCE} on the test split; nothing was written`);
    }
    const n = Math.min(batch, ds.test.n);
    const feeds = { input: { type: 'float32' as const, data: ds.test.x.slice(0, n * width), dims: [n, ...ds.inputShape] } };
    small = { name: `${ck.method} (${exp.downstream.model})`, kind: 'downstream', parameters: parameterCount(weights), msPerExample: await msPerExample(session, feeds, n, 'logits') };
  } finally {
    await session.release();
  }
  const models: ModelCost[] = [small];
  const { refs } = await onnxSourceRefs(exp.pretrained, ds, workspace, { log: opts.log, onBuildProgress: () => {} });
  for (const ref of refs) {
    const files = resolveOnnxFiles(ref);
    const s = await OnnxSession.open(files.model, { device, threads: ref.spec.threads, log: opts.log });
    try {
      const input = s.input(ref.spec.input ?? (ds.raw?.kind === 'text' ? s.inputs.find((i) => i.name === 'input_ids')?.name : undefined), `pretrained[${ref.index}].onnx.input`);
      const output = s.output(ref.spec.output, `pretrained[${ref.index}].onnx.output`);
      const source =
        ds.raw?.kind === 'images'
          ? imageBatches(s, input, ds, resolveImagePreprocess(files.preprocessor ? readPreprocessorConfig(files.preprocessor) : undefined, ref.spec.preprocess, input, { file: files.model, field: `pretrained[${ref.index}].onnx.preprocess` }))
          : ds.raw?.kind === 'text'
            ? textBatches(s, input, ds, loadTokenizer(files.tokenizer!), ref.spec.max_length ?? ds.inputShape[0])
            : tensorBatches(s, input, ds);
      const n = Math.min(batch, ds.test.n);
      const prepared = await source.prepare(ds.train.n, ds.train.n + n);
      models.push({ name: `${ref.name} (${ref.kind})`, kind: 'pretrained', parameters: onnxParameterCount(files.model), msPerExample: await msPerExample(s, prepared.feeds, n, output.name) });
    } finally {
      await s.release();
    }
  }
  return {
    file: out,
    bytes: bytes.length,
    opset: OPSET,
    method: ck.method,
    seed: ck.seed,
    model: exp.downstream.model,
    checkpoint: ck.file,
    verification,
    cost: { provider: verification.provider, batch, models },
  };
}
