/**
 * `npm run bench:extract`: feature-extraction throughput. The same ONNX image model and batch
 * are timed two ways: bare `session.run` on tensors prepared in advance, and the whole pipeline
 * (JPEG decode + resize + crop + normalise with sharp, onnxruntime, pooling, chunked cache
 * writes). The pipeline keeps the model's next batch queued and prepares the one after while the
 * model runs, so its throughput should stay within 10% of the bare model's. Also times
 * re-reading the cached features.
 * Prints a table and writes .aft/bench/extract.json (`--json` prints only the JSON).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Dataset } from '../data/dataset';
import { exportDownstream } from '../export/downstream';
import type { OnnxSourceSpec } from '../../../core/node/experiment/schema';
import { readPreprocessorConfig, resolveImagePreprocess } from '../features/imagePreprocess';
import { imageBatches } from '../features/onnxInputs';
import { extractOnnx } from '../features/onnxSource';
import { encodeImage } from '../runtime/images';
import { OnnxSessionPool, type OnnxTensor } from '../runtime/onnx';
import { Rng } from '../util/rng';
import { writeFileAtomic } from '../../../core/node/util/fsx';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean' },
    images: { type: 'string' },
    batch: { type: 'string' },
    repeats: { type: 'string' },
    threads: { type: 'string' },
  },
});
/** onnxruntime's intra-op threads (0: one per core). `--threads 1` on 2 cores leaves the model one core and preprocessing the other, as a GPU would leave the CPU to preprocessing. */
const THREADS = Number(values.threads ?? 0);
/** 16 batches: an extraction's one-time start weighs about as in a real dataset, not as in a handful of batches (it is also reported apart). */
const N = Number(values.images ?? 512);
const BATCH = Number(values.batch ?? 32);
if (N < 2 * BATCH) throw new Error(`--images must be at least two batches (${2 * BATCH})`);
const REPEATS = Number(values.repeats ?? 3);
const SIDE = 224;

const channels = [64, 128, 256, 256];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * An HF-style folder with a CNN over 224x224 RGB (~2.4 G multiply-adds per image, as DINOv2-S/14,
 * the smallest DINOv2: preprocessing weighs as it would next to a real foundation model), and N JPEGs
 * of 250-300 pixels a side, resized (shortest edge 256) and centre-cropped as DINOv2's config says.
 */
async function setup(dir: string): Promise<{ folder: string; ds: Dataset }> {
  const rng = new Rng(1);
  const w = (shape: number[], fanIn: number): { shape: number[]; data: Float32Array } => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * Math.sqrt(2 / fanIn)),
  });
  const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
  let c = 3;
  channels.forEach((out, i) => {
    weights[`conv${i}.w`] = w([3, 3, c, out], 9 * c);
    weights[`conv${i}.b`] = w([out], 1);
    c = out;
  });
  const flat = (SIDE / 16) * (SIDE / 16) * c;
  Object.assign(weights, {
    'fc0.w': w([flat, 256], flat),
    'fc0.b': w([256], 1),
    'head.w': w([256, 10], 256),
    'head.b': w([10], 1),
  });
  const folder = path.join(dir, 'bench-cnn');
  fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  writeFileAtomic(
    path.join(folder, 'onnx', 'model.onnx'),
    exportDownstream(weights, { kind: 'cnn', inputShape: [SIDE, SIDE, 3], channels, hidden: [256], numClasses: 10 }),
  );
  const config = {
    do_resize: true,
    size: { shortest_edge: 256 },
    resample: 2,
    do_center_crop: true,
    crop_size: { height: SIDE, width: SIDE },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.485, 0.456, 0.406],
    image_std: [0.229, 0.224, 0.225],
  };
  writeFileAtomic(path.join(folder, 'preprocessor_config.json'), JSON.stringify(config));
  const files: string[] = [];
  for (let i = 0; i < N; i++) {
    const width = 250 + rng.int(50);
    const height = 250 + rng.int(50);
    const data = Uint8Array.from({ length: width * height * 3 }, (_, k) => (k % 3) * 60 + rng.int(80));
    const f = path.join(dir, 'images', `${i}.jpg`);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    writeFileAtomic(f, await encodeImage({ data, width, height, channels: 3 }, 'jpeg'));
    files.push(f);
  }
  const n = N;
  const split = { n, x: new Float32Array(0), y: new Int32Array(n) };
  return {
    folder,
    ds: {
      name: 'bench',
      inputShape: [SIDE, SIDE, 3],
      numClasses: 1,
      train: split,
      test: { n: 0, x: new Float32Array(0), y: new Int32Array(0) },
      raw: { kind: 'images', train: files, test: [] },
      contentHash: { train: `bench-${N}`, test: 'none' },
    },
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bench-extract-'));
  const { folder, ds } = await setup(dir);
  const spec: OnnxSourceSpec = {
    folder,
    output: 'features',
    pooling: 'none',
    device: 'auto',
    batch: BATCH,
    threads: THREADS,
  };
  const ref = { name: 'bench', index: 0, spec, baseDir: '/', kind: 'onnx' as const };
  const log = (): void => {};

  // Bare: the same session, batches prepared beforehand, only session.run timed. The session is
  // opened and warmed up once (onnxruntime's first calls are slow) and both measurements use it:
  // the pipeline through the session pool an extraction takes, as a run's sources share one.
  const sessions = new OnnxSessionPool();
  let t0 = performance.now();
  const session = await sessions.get(path.join(folder, 'onnx', 'model.onnx'), {
    device: 'auto',
    threads: THREADS,
    thread: true,
  });
  const input = session.input(undefined, 'input');
  const pre = resolveImagePreprocess(
    readPreprocessorConfig(path.join(folder, 'preprocessor_config.json')),
    undefined,
    input,
    { file: folder, field: 'bench' },
  );
  const source = imageBatches(session, input, ds, pre);
  const prepared: Record<string, OnnxTensor>[] = [];
  // Preprocessing alone (the model idle): its CPU time per image is what it takes from the model
  // when both share the cores.
  const cpu0 = process.cpuUsage();
  const prep0 = performance.now();
  for (let s = 0; s < N; s += BATCH) prepared.push((await source.prepare(s, Math.min(N, s + BATCH))).feeds);
  const prepWallMs = (performance.now() - prep0) / N;
  const cpu1 = process.cpuUsage(cpu0);
  const prepCpuMs = (cpu1.user + cpu1.system) / 1000 / N;
  // Moved to the model's thread and back, as the pipeline does: the fastest way to feed it.
  const runBare = async (i: number): Promise<void> => {
    prepared[i] = (await session.runMoved(prepared[i], ['features'])).feeds;
  };
  for (let i = 0; i < 3; i++) await runBare(0);
  const warmup = (performance.now() - t0) / 1000;
  const bare: number[] = [];
  const pipeline: number[] = [];
  const reread: number[] = [];
  const bareCores: number[] = [];
  const pipelineCores: number[] = [];
  const steady: number[] = [];
  const startup: number[] = [];
  const coresSince = (c0: NodeJS.CpuUsage, t: number): number => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / (performance.now() - t);
  };
  for (let r = 0; r < REPEATS; r++) {
    t0 = performance.now();
    let c0 = process.cpuUsage();
    for (let i = 0; i < prepared.length; i++) await runBare(i);
    bareCores.push(coresSince(c0, t0));
    bare.push(N / ((performance.now() - t0) / 1000));
    const cacheRoot = path.join(dir, `cache-${r}`);
    t0 = performance.now();
    c0 = process.cpuUsage();
    // When the first batch was done: what follows is the pipeline's steady state.
    let firstDone = 0;
    const out = await extractOnnx(ref, ds, {
      cacheRoot,
      log,
      sessions,
      onProgress: (p) => (firstDone ||= p.done > 0 ? performance.now() : 0),
    });
    const end = performance.now();
    pipelineCores.push(coresSince(c0, t0));
    pipeline.push(N / ((end - t0) / 1000));
    steady.push((N - BATCH) / ((end - firstDone) / 1000));
    // The first batch's time beyond a steady batch: the start an extraction pays once.
    startup.push((firstDone - t0) / 1000 - BATCH / steady[r]);
    if (!out.complete || out.cached) throw new Error('benchmark extraction did not run');
    t0 = performance.now();
    const again = await extractOnnx(ref, ds, { cacheRoot, log, sessions });
    reread.push((performance.now() - t0) / 1000);
    if (!again.cached) throw new Error('second extraction did not read the cache');
  }
  await sessions.releaseAll();
  const ratios = pipeline.map((p, r) => p / bare[r]);
  const steadyRatios = steady.map((p, r) => p / bare[r]);
  const result = {
    benchmark: 'extract',
    provider: session.provider,
    cpus: os.cpus().length,
    model: `cnn ${SIDE}x${SIDE}x3, channels [${channels.join(', ')}], 256 features (~2.4 GMAC per image, as DINOv2-S/14)`,
    images: N,
    batch: BATCH,
    onnx_threads: THREADS || 'one per core',
    repeats: REPEATS,
    bare_items_per_second: +median(bare).toFixed(1),
    pipeline_items_per_second: +median(pipeline).toFixed(1),
    // Each repeat's pipeline against the bare pass just before it: this machine's speed drifts by
    // up to ~10% over minutes, far more than between two neighbouring passes.
    ratio: +median(ratios).toFixed(3),
    ratio_min: +Math.min(...ratios).toFixed(3),
    ratio_max: +Math.max(...ratios).toFixed(3),
    steady_items_per_second: +median(steady).toFixed(1),
    steady_ratio: +median(steadyRatios).toFixed(3),
    startup_seconds: +median(startup).toFixed(3),
    cached_reread_seconds: +median(reread).toFixed(4),
    bare_cores_busy: +median(bareCores).toFixed(2),
    pipeline_cores_busy: +median(pipelineCores).toFixed(2),
    preprocess_cpu_ms_per_image: +prepCpuMs.toFixed(2),
    preprocess_wall_ms_per_image: +prepWallMs.toFixed(2),
    session_start_and_warmup_seconds: +warmup.toFixed(2),
    feature_bytes: N * 256 * 4,
  };
  const outFile = path.join(
    process.cwd(),
    '.aft',
    'bench',
    THREADS ? `extract-threads-${THREADS}.json` : 'extract.json',
  );
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileAtomic(outFile, JSON.stringify(result, null, 2) + '\n');
  fs.rmSync(dir, { recursive: true, force: true });
  if (!values.json) {
    console.log(
      `extraction on ${result.provider} (${result.cpus} cpus, onnxruntime threads: ${result.onnx_threads}), ${N} JPEGs, batch ${BATCH}, median of ${REPEATS}:`,
    );
    console.log(
      `  bare session.run on prepared tensors  ${result.bare_items_per_second} images/s   (${result.bare_cores_busy} cores busy)`,
    );
    console.log(
      `  pipeline (decode+resize+run+cache)    ${result.pipeline_items_per_second} images/s   (${result.pipeline_cores_busy} cores busy)   ratio ${result.ratio} (${result.ratio_min}–${result.ratio_max} over the repeats)`,
    );
    console.log(
      `  pipeline after its first batch        ${result.steady_items_per_second} images/s   ratio ${result.steady_ratio}; the start (model hash, first batch prepared with the model idle) ${(result.startup_seconds * 1000).toFixed(0)} ms`,
    );
    console.log(`  cached re-read                        ${(result.cached_reread_seconds * 1000).toFixed(1)} ms`);
    console.log(
      `  preprocessing alone                   ${result.preprocess_cpu_ms_per_image} CPU ms per image (${result.preprocess_wall_ms_per_image} ms wall)`,
    );
    console.log(
      `  one-time session start + warm-up      ${result.session_start_and_warmup_seconds} s (paid once per extraction, in both)`,
    );
    console.log(`wrote ${outFile}`);
  }
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
