/**
 * `aft export`: a trained downstream model from the run store to an ONNX file, verified against
 * the tfjs model on the test split (max |Δ logit| ≤ 1e-4), with the inference cost of the small
 * model next to the pre-trained models' in onnxruntime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../data/dataset';
import { loadExperimentDataset } from '../data/load';
import { BACKEND_CHOICES, type Experiment } from '../../../core/node/experiment/schema';
import type { ExportReport, ModelCost } from '../../../core/common/protocol/rpc';
import { resolveRunDir } from '../../../core/node/runs/store';
import { onnxSourceRefs } from '../features/sources';
import { resolveOnnxFiles, sourceBatches } from '../features/onnxSource';
import { readSafetensors } from '../../../core/node/io/safetensors';
import { loadCheckpoint } from '../models/checkpoint';
import { createModel, modelInputs } from '../models/model';
import { readTidy } from '../train/evaluate';
import { ONNX_DEVICES, OnnxSession, type OnnxDevice, type OnnxTensor } from '../runtime/onnx';
import { initBackend, tf, type BackendChoice } from '../runtime/tf';
import { AftError, badInput } from '../../../core/common/util/errors';
import { writeFileAtomic } from '../../../core/node/util/fsx';
import { onnxParameterCount, msPerExample } from './cost';
import { exportDownstream, parameterCount } from './downstream';
import { exportStudent, studentParameterCount } from './student';
import { pickCheckpoint, readRunExperiment } from '../models/runCheckpoint';
import { readHubFolder } from '../models/pretrained';
import { OPSET } from './proto';
import { tokenFeeds } from './bert';

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

export type { ExportReport, ModelCost };

/**
 * An export as a front end asks for it (`aft export` arguments, an `aft/export` request): checked
 * field by field, then the run folder resolved, the tfjs backend started and the model exported.
 */
export interface ExportRequest {
  /** Who asks (`aft export`, `aft/export`): where bad fields are said to be. */
  origin: string;
  /** A run folder, or a run id under `<workspaceDir>/.aft/runs`. */
  run: string;
  workspaceDir: string;
  /** Where the .onnx goes (relative paths against `relativeTo`). */
  out: string;
  relativeTo?: string;
  method?: string;
  seed?: number;
  device?: string;
  backend?: string;
  log: (message: string) => void;
}

/** Checks a request's fields (typed bad input naming the field), then exports. Shared by the CLI and the server. */
export async function exportModel(req: ExportRequest): Promise<ExportReport> {
  const origin = req.origin;
  if (typeof req.run !== 'string' || !req.run)
    throw badInput('expected a run folder (or a run id)', { file: origin, field: 'runDir' });
  if (typeof req.out !== 'string' || !req.out.trim())
    throw badInput('expected the path of the .onnx file to write', { file: origin, field: 'out' });
  if (req.method !== undefined && (typeof req.method !== 'string' || !req.method))
    throw badInput(`expected a method name, got ${JSON.stringify(req.method)}`, { file: origin, field: 'method' });
  if (req.seed !== undefined && (typeof req.seed !== 'number' || !Number.isInteger(req.seed) || req.seed < 0))
    throw badInput(`expected a non-negative integer seed, got ${JSON.stringify(req.seed)}`, {
      file: origin,
      field: 'seed',
    });
  if (req.device !== undefined && !(ONNX_DEVICES as readonly string[]).includes(req.device))
    throw badInput(`must be one of ${ONNX_DEVICES.join(', ')}, got '${req.device}'`, { file: origin, field: 'device' });
  if (req.backend !== undefined && !(BACKEND_CHOICES as readonly string[]).includes(req.backend))
    throw badInput(`must be one of ${BACKEND_CHOICES.join(', ')}, got '${req.backend}'`, {
      file: origin,
      field: 'backend',
    });
  const runDir = resolveRunDir(req.run, path.resolve(req.workspaceDir), { file: origin, field: 'runDir' });
  const out = path.resolve(req.relativeTo ?? process.cwd(), req.out);
  if (fs.existsSync(out) && fs.statSync(out).isDirectory())
    throw badInput('is a folder; give the path of the .onnx file to write', { file: out, field: 'out' });
  await initBackend((req.backend ?? 'auto') as BackendChoice, req.log);
  return exportRun({
    runDir,
    out,
    log: req.log,
    ...(req.method !== undefined ? { method: req.method } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
    ...(req.device ? { device: req.device as OnnxDevice } : {}),
  });
}

/** Logits of the tfjs model on the test split, in chunks. */
async function tfjsLogits(exp: Experiment, ds: Dataset, checkpoint: string): Promise<Float32Array> {
  // A pretrained student's checkpoint is a hub folder: the student is built from it, head and all.
  const pretrained = exp.downstream.model === 'pretrained';
  const spec = pretrained ? { ...exp.downstream, folder: checkpoint, head: 'keep' as const } : exp.downstream;
  const model = createModel(spec, ds.inputShape, ds.numClasses, 0, modelInputs(ds));
  try {
    if (!pretrained) loadCheckpoint(model, checkpoint);
    const width = ds.inputShape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(ds.test.n * ds.numClasses);
    for (let s = 0; s < ds.test.n; s += 256) {
      const n = Math.min(256, ds.test.n - s);
      out.set(
        await readTidy(
          () => model.forward(tf.tensor(ds.test.x.subarray(s * width, (s + n) * width), [n, ...ds.inputShape])).logits,
        ),
        s * ds.numClasses,
      );
    }
    return out;
  } finally {
    model.dispose();
  }
}

export async function exportRun(opts: ExportOptions): Promise<ExportReport> {
  const exp = readRunExperiment(opts.runDir);
  const model = exp.downstream.model;
  // The ONNX graphs cover the mlp, cnn and pretrained students; the text encoder (and so the
  // two-tower model's text tower) has no graph yet.
  if (model === 'transformer' || model === 'two-tower')
    throw badInput(
      `export supports the mlp, cnn and pretrained students; this run trained a ${model}, which has no ONNX export yet`,
      { file: opts.runDir, field: 'downstream.model' },
    );
  const ck = pickCheckpoint(opts.runDir, exp, opts.method, opts.seed);
  // Runs store absolute paths; older runs are resolved against their workspace.
  const workspace = path.resolve(opts.runDir, '..', '..', '..');
  const ds = await loadExperimentDataset(exp, workspace, opts.log);
  const props = { method: ck.method, seed: String(ck.seed), run: path.basename(opts.runDir) };
  let bytes: Uint8Array;
  let parameters: number;
  // The ONNX inputs of `n` examples from the engine's rows: one float tensor, or a text student's ids and mask.
  let feedsOf = (x: Float32Array, n: number): Record<string, OnnxTensor> => ({
    input: { type: 'float32', data: x, dims: [n, ...ds.inputShape] },
  });
  if (model === 'pretrained') {
    const hub = readHubFolder(ck.file);
    bytes = exportStudent(hub, ds.inputShape, props);
    parameters = studentParameterCount(hub.family, hub.shape);
    const input = hub.family.input(hub.shape);
    if (input.kind === 'tokens') feedsOf = (x, n) => tokenFeeds(x, n, input.padId);
  } else {
    const weights = readSafetensors(ck.file).tensors;
    bytes = exportDownstream(
      weights,
      {
        kind: model,
        inputShape: ds.inputShape,
        channels: exp.downstream.channels,
        hidden: exp.downstream.hidden,
        numClasses: ds.numClasses,
      },
      props,
    );
    parameters = parameterCount(weights);
  }
  const out = path.resolve(opts.out);
  writeFileAtomic(out, bytes);
  const device = opts.device ?? 'auto';
  const batch = opts.batch ?? 32;

  const session = await OnnxSession.open(out, { device, log: opts.log });
  let verification: ExportReport['verification'];
  let small: ModelCost;
  try {
    const ref = await tfjsLogits(exp, ds, ck.file);
    const width = ds.inputShape.reduce((a, b) => a * b, 1);
    let maxAbsDiff = 0;
    for (let s = 0; s < ds.test.n; s += 256) {
      const n = Math.min(256, ds.test.n - s);
      const got = (await session.run(feedsOf(ds.test.x.slice(s * width, (s + n) * width), n), ['logits'])).logits
        .data as Float32Array;
      for (let i = 0; i < got.length; i++)
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - ref[s * ds.numClasses + i]));
    }
    verification = { examples: ds.test.n, maxAbsDiff, tolerance: EXPORT_TOLERANCE, provider: session.provider };
    if (!(maxAbsDiff <= EXPORT_TOLERANCE)) {
      fs.rmSync(out, { force: true });
      throw new AftError(
        'run_failed',
        `the exported model differs from the trained one by ${maxAbsDiff} > ${EXPORT_TOLERANCE} on the test split; nothing was written`,
      );
    }
    const n = Math.min(batch, ds.test.n);
    const feeds = feedsOf(ds.test.x.slice(0, n * width), n);
    small = {
      name: `${ck.method} (${exp.downstream.model})`,
      kind: 'downstream',
      parameters,
      msPerExample: await msPerExample(session, feeds, n, 'logits'),
    };
  } finally {
    await session.release();
  }
  const models: ModelCost[] = [small];
  const { refs } = await onnxSourceRefs(exp.pretrained, ds, workspace, { log: opts.log, onBuildProgress: () => {} });
  for (const ref of refs) {
    const files = resolveOnnxFiles(ref);
    const s = await OnnxSession.open(files.model, { device, threads: ref.spec.threads, log: opts.log });
    try {
      const output = s.output(ref.spec.output, `pretrained[${ref.index}].onnx.output`);
      const source = sourceBatches(s, ref, files, ds);
      const n = Math.min(batch, ds.test.n);
      const prepared = await source.prepare(ds.train.n, ds.train.n + n);
      models.push({
        name: `${ref.name} (${ref.kind})`,
        kind: 'pretrained',
        parameters: onnxParameterCount(files.model),
        msPerExample: await msPerExample(s, prepared.feeds, n, output.name),
      });
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
    parameters: small.parameters ?? parameters,
    verification,
    cost: { provider: verification.provider, batch, models },
  };
}
