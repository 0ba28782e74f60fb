/**
 * Features from a pre-trained ONNX model (a user's DINOv2, CLIP, BERT, … or the built-in
 * teacher): files resolved from the experiment, a cache key from everything the features depend
 * on, then either the cached features or an extraction through onnxruntime, in chunks that
 * resume after a crash and that shards on other machines fill in (docs/feature-cache.md).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../data/dataset';
import { modalityView, pixelsView } from '../data/paired';
import { modalityUnknownMessage, sourceModality } from '../../../core/node/experiment/modality';
import { loadTokenizer } from '../data/tokenizer';
import type { OnnxSourceSpec } from '../../../core/node/experiment/schema';
import { OnnxSessionPool, type OnnxRunner } from '../runtime/onnx';
import { AftError, badInput, CancelledError } from '../../../core/common/util/errors';
import { CACHE_FORMAT, CACHE_VERSION, FeatureCacheEntry, hashJson, modelHash, type Cached } from './cache';
import type { FeatureBlock } from './features';
import { readPreprocessorConfig, resolveImagePreprocess } from './imagePreprocess';
import { imageBatches, tensorBatches, textBatches, type Batch, type BatchSource } from './onnxInputs';
import { pool, poolingProblem } from './pooling';
import { pipelined } from '../util/pipeline';
import type { ProgressEvent } from '../../../core/common/protocol/events';

/** Rows per cache chunk: what a crash can lose, and the unit shards divide. */
export const CHUNK_ROWS = 512;

export interface OnnxSourceRef {
  name: string;
  /** Index in `pretrained`, for messages. */
  index: number;
  spec: OnnxSourceSpec;
  baseDir: string;
  kind: 'onnx' | 'builtin';
}

export interface ResolvedFiles {
  model: string;
  folder?: string;
  preprocessor?: string;
  tokenizer?: string;
}

export interface ExtractOptions {
  /** `<workspace>/.aft/cache/features`. */
  cacheRoot: string;
  /** Extract only chunks c with c % count === index; the last shard to finish merges. */
  shard?: { index: number; count: number };
  signal?: AbortSignal;
  log: (message: string) => void;
  onProgress?: (p: ExtractProgress) => void;
  /** Rows per chunk when this call creates the plan (default: CHUNK_ROWS, at least one batch). */
  chunkRows?: number;
  /** Sessions to share with other extractions (the caller releases them); else one is opened and released here. */
  sessions?: OnnxSessionPool;
}

export interface ExtractProgress {
  source: string;
  provider: string;
  /** Rows present (extracted now or before) and total rows (train + test). */
  done: number;
  total: number;
  itemsPerSecond: number;
  etaSeconds: number | null;
}

/**
 * The run event of an extraction's progress (the same for a run's sources and for `aft extract`);
 * `fraction` is of the caller's whole task.
 */
export function extractionProgressEvent(runId: string, p: ExtractProgress, fraction: number): ProgressEvent {
  return {
    type: 'progress',
    runId,
    label: `extracting ${p.source} (${p.provider})`,
    step: p.done,
    steps: p.total,
    job: 0,
    jobs: 0,
    fraction,
    etaSeconds: p.etaSeconds,
    itemsPerSecond: p.itemsPerSecond,
  };
}

export interface ExtractOutcome {
  name: string;
  key: string;
  dir: string;
  cached: boolean;
  complete: boolean;
  block?: FeatureBlock;
  chunks: { present: number; total: number };
  /** Rows extracted by this call and how long it took (0 when cached). */
  extracted: number;
  seconds: number;
  provider?: string;
}

export function resolveOnnxFiles(ref: OnnxSourceRef): ResolvedFiles {
  const { spec, baseDir, index } = ref;
  const field = `pretrained[${index}].onnx`;
  const folder = spec.folder !== undefined ? path.resolve(baseDir, spec.folder) : undefined;
  if (folder !== undefined && !fs.existsSync(folder))
    throw badInput('model folder not found', { file: folder, field: `${field}.folder` });
  let model: string;
  if (spec.model !== undefined) model = path.resolve(baseDir, spec.model);
  else if (folder !== undefined) {
    const candidates = [path.join(folder, 'onnx', 'model.onnx'), path.join(folder, 'model.onnx')];
    const found = candidates.find((c) => fs.existsSync(c));
    if (!found) {
      const onnxFiles = [folder, path.join(folder, 'onnx')]
        .filter((d) => fs.existsSync(d))
        .flatMap((d) =>
          fs
            .readdirSync(d)
            .filter((n) => n.endsWith('.onnx'))
            .map((n) => path.relative(folder, path.join(d, n))),
        );
      throw badInput(
        `no onnx/model.onnx or model.onnx in the folder${onnxFiles.length ? `; set \`model\` to one of: ${onnxFiles.join(', ')}` : ' (and no other .onnx file)'}`,
        { file: folder, field: `${field}.folder` },
      );
    }
    model = found;
  } else throw badInput('an onnx source needs `folder` or `model`', { file: '<experiment>', field });
  if (!fs.existsSync(model)) throw badInput('ONNX model not found', { file: model, field: `${field}.model` });
  const inFolder = (name: string): string | undefined =>
    folder !== undefined && fs.existsSync(path.join(folder, name)) ? path.join(folder, name) : undefined;
  const tokenizer = spec.tokenizer !== undefined ? path.resolve(baseDir, spec.tokenizer) : inFolder('tokenizer.json');
  const preprocessor = inFolder('preprocessor_config.json');
  return {
    model,
    ...(folder ? { folder } : {}),
    ...(preprocessor ? { preprocessor } : {}),
    ...(tokenizer ? { tokenizer } : {}),
  };
}

/**
 * The batches a source's model is fed, by the dataset's kind: images prepared as the model's
 * preprocessor_config.json (and the file's overrides) say, text tokenised with its tokenizer.json
 * (fed to `input_ids` unless the file names an input), arrays as they are.
 */
export function sourceBatches(session: OnnxRunner, ref: OnnxSourceRef, files: ResolvedFiles, ds: Dataset): BatchSource {
  const field = `pretrained[${ref.index}].onnx`;
  const input = session.input(
    ref.spec.input ?? (ds.raw?.kind === 'text' ? session.inputs.find((i) => i.name === 'input_ids')?.name : undefined),
    `${field}.input`,
  );
  if (ds.raw?.kind === 'images') {
    const config = files.preprocessor ? readPreprocessorConfig(files.preprocessor) : undefined;
    return imageBatches(
      session,
      input,
      ds,
      resolveImagePreprocess(config, ref.spec.preprocess, input, {
        file: files.preprocessor ?? files.model,
        field: `${field}.preprocess`,
      }),
    );
  }
  if (ds.raw?.kind === 'text')
    return textBatches(
      session,
      input,
      ds,
      loadTokenizer(files.tokenizer!),
      ref.spec.max_length ?? ds.inputShape[0],
      `${field}.tokenizer`,
    );
  return tensorBatches(session, input, ds);
}

function tensorHash(ds: Dataset): { train: string; test: string } {
  const h = (x: Float32Array): string =>
    createHash('sha256')
      .update(JSON.stringify(ds.inputShape))
      .update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength))
      .digest('hex');
  return { train: h(ds.train.x), test: h(ds.test.x) };
}

/** Everything the features depend on; its hash names the cache folder. */
export function cacheKeyParts(
  ref: OnnxSourceRef,
  files: ResolvedFiles,
  ds: Dataset,
  cacheRoot: string,
): Record<string, unknown> {
  const mode = ds.raw?.kind ?? 'tensor';
  const { spec } = ref;
  const maxLength = spec.max_length ?? ds.inputShape[0];
  const parts: Record<string, unknown> = {
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    model: modelHash(files.model, cacheRoot),
    input: spec.input ?? null,
    output: spec.output ?? null,
    pooling: spec.pooling,
    mode,
    data: ds.contentHash ?? tensorHash(ds),
  };
  if (mode === 'images') {
    parts.preprocess = spec.preprocess ?? null;
    parts.preprocessorConfig = files.preprocessor
      ? createHash('sha256').update(fs.readFileSync(files.preprocessor)).digest('hex')
      : null;
  }
  if (mode === 'text') {
    if (!files.tokenizer)
      throw badInput("text features need the model's tokenizer.json: put it in the folder or set `tokenizer`", {
        file: files.model,
        field: `pretrained[${ref.index}].onnx.tokenizer`,
      });
    parts.tokenizer = loadTokenizer(files.tokenizer, `pretrained[${ref.index}].onnx.tokenizer`).hash;
    parts.maxLength = maxLength;
  }
  return parts;
}

function blockOf(ref: OnnxSourceRef, c: Cached): FeatureBlock {
  return { name: ref.name, kind: ref.kind, width: c.meta.width, train: c.train, test: c.test };
}

/**
 * What a source reads of the dataset: of a paired dataset, the half its `modality` (or its
 * files: core/node/experiment/modality.ts) says, as an image or a text dataset (data/paired.ts).
 */
export function sourceDataset(ref: OnnxSourceRef, files: ResolvedFiles, ds: Dataset): Dataset {
  if (!ds.paired) return ds;
  const has = { tokenizer: files.tokenizer !== undefined, preprocessor: files.preprocessor !== undefined };
  const modality = sourceModality(ref.spec, has);
  if (!modality)
    throw badInput(modalityUnknownMessage(has), { file: files.model, field: `pretrained[${ref.index}].onnx.modality` });
  return modalityView(ds, modality);
}

/** Features of one ONNX source: from the cache, or extracted (this shard's part) and cached. */
export async function extractOnnx(ref: OnnxSourceRef, whole: Dataset, opts: ExtractOptions): Promise<ExtractOutcome> {
  const files = resolveOnnxFiles(ref);
  // The built-in teacher reads arrays: of a paired dataset, the image tower's own pixels.
  const ds = ref.kind === 'builtin' ? pixelsView(whole) : sourceDataset(ref, files, whole);
  if (whole.paired)
    opts.log(`${ref.name} reads the ${ds.raw?.kind === 'text' ? 'texts' : 'images'} of the paired dataset`);
  const keyParts = cacheKeyParts(ref, files, ds, opts.cacheRoot);
  const key = hashJson(keyParts).slice(0, 32);
  const entry = new FeatureCacheEntry(opts.cacheRoot, key, opts.log);
  const total = ds.train.n + ds.test.n;
  const base = { name: ref.name, key, dir: entry.dir };
  const hit = entry.read();
  if (hit) {
    const c = Math.ceil(total / CHUNK_ROWS);
    return {
      ...base,
      cached: true,
      complete: true,
      block: blockOf(ref, hit),
      chunks: { present: c, total: c },
      extracted: 0,
      seconds: 0,
    };
  }
  const field = `pretrained[${ref.index}].onnx`;
  const sessions = opts.sessions ?? new OnnxSessionPool();
  // In a worker thread: the next batch is decoded and normalised here while the model runs there.
  const session = await sessions.get(files.model, {
    device: ref.spec.device,
    threads: ref.spec.threads,
    log: opts.log,
    thread: true,
  });
  try {
    const output = session.output(ref.spec.output, `${field}.output`);
    const problem = poolingProblem(ref.spec.pooling, output.shape);
    if (problem) throw badInput(problem, { file: files.model, field: `${field}.pooling` });
    const batches = sourceBatches(session, ref, files, ds);
    const started = performance.now();
    let extracted = 0;
    // A chunk found damaged while merging was removed: extract it again (at most twice).
    for (let attempt = 1; ; attempt++) {
      const merged = attempt > 1 ? entry.read() : undefined;
      if (merged) {
        // Another shard merged the entry meanwhile.
        const c = Math.ceil(total / CHUNK_ROWS);
        return {
          ...base,
          cached: false,
          complete: true,
          block: blockOf(ref, merged),
          chunks: { present: c, total: c },
          extracted,
          seconds: (performance.now() - started) / 1000,
          provider: session.provider,
        };
      }
      const before = extracted;
      const plan = entry.plan(total, opts.chunkRows ?? Math.max(CHUNK_ROWS, ref.spec.batch));
      const chunks: [number, number][] = [];
      for (let s = 0; s < total; s += plan.chunkRows) chunks.push([s, Math.min(total, s + plan.chunkRows)]);
      const mine = chunks.filter((_, c) => !opts.shard || c % opts.shard.count === opts.shard.index);
      const todo = mine.filter(([s, e]) => !entry.hasChunk(s, e));
      let done = chunks.filter(([s, e]) => entry.hasChunk(s, e)).reduce((a, [s, e]) => a + e - s, 0);
      const remaining = todo.reduce((a, [s, e]) => a + e - s, 0);
      if (todo.length)
        opts.log(
          `${ref.name}: extracting ${remaining} of ${total} examples with ${path.basename(files.model)} (${session.provider}, batch ${ref.spec.batch}${opts.shard ? `, shard ${opts.shard.index}/${opts.shard.count}` : ''})`,
        );
      const progress = (): void => {
        const secs = (performance.now() - started) / 1000;
        const rate = secs > 0 ? extracted / secs : 0;
        opts.onProgress?.({
          source: ref.name,
          provider: session.provider,
          done,
          total,
          itemsPerSecond: rate,
          etaSeconds: rate > 0 ? (remaining - (extracted - before)) / rate : null,
        });
      };
      progress();
      // Batches of all pending chunks in order. The model always has the next batch queued while it
      // runs one, and the batch after is prepared meanwhile (util/pipeline.ts); the feeds' memory
      // goes to the model's thread and back to be filled again, never copied.
      const work = todo.flatMap(([s, e]) => {
        const out: [number, number][] = [];
        for (let b = s; b < e; b += ref.spec.batch) out.push([b, Math.min(e, b + ref.spec.batch)]);
        return out;
      });
      const results = pipelined(work, {
        prepare: ([b0, b1]) => {
          if (opts.signal?.aborted) return Promise.reject(new CancelledError());
          return batches.prepare(b0, b1);
        },
        run: async (batch: Batch) => {
          const ran = await session.runMoved(batch.feeds, [output.name]);
          batches.recycle?.(ran.feeds);
          return { out: ran.outputs[output.name], mask: batch.mask };
        },
      });
      let chunkIdx = 0;
      let parts: Float32Array[] = [];
      let width = -1;
      for await (const {
        item: [b0, b1],
        result: { out, mask },
      } of results) {
        if (opts.signal?.aborted) throw new CancelledError();
        if (!(out.data instanceof Float32Array))
          throw badInput(`output '${output.name}' is ${out.type}; features must be float32`, {
            file: files.model,
            field: `${field}.output`,
          });
        const actual = poolingProblem(ref.spec.pooling, out.dims);
        if (actual) throw badInput(actual, { file: files.model, field: `${field}.pooling` });
        if (out.dims[0] !== b1 - b0)
          throw badInput(`output '${output.name}' has ${out.dims[0]} rows for a batch of ${b1 - b0}`, {
            file: files.model,
            field: `${field}.output`,
          });
        const pooled = pool(
          ref.spec.pooling,
          out.data,
          out.dims,
          out.dims.length === 3 && mask && mask.length === out.dims[0] * out.dims[1] ? mask : undefined,
        );
        width = pooled.width;
        parts.push(pooled.data);
        extracted += b1 - b0;
        done += b1 - b0;
        const [cs, ce] = todo[chunkIdx];
        if (b1 === ce) {
          const data = new Float32Array((ce - cs) * width);
          let off = 0;
          for (const p of parts) {
            data.set(p, off);
            off += p.length;
          }
          entry.writeChunk(cs, ce, width, data);
          parts = [];
          chunkIdx++;
        }
        progress();
      }
      const seconds = (performance.now() - started) / 1000;
      const present = chunks.filter(([s, e]) => entry.hasChunk(s, e)).length;
      const common = {
        ...base,
        cached: false,
        chunks: { present, total: chunks.length },
        extracted,
        seconds,
        provider: session.provider,
      };
      if (present < chunks.length) return { ...common, complete: false };
      const cached = entry.finish(plan, ds.train.n, {
        format: CACHE_FORMAT,
        version: CACHE_VERSION,
        key,
        keyParts,
        source: ref.name,
        model: files.model,
        provider: session.provider,
        created: new Date().toISOString(),
        ...(extracted ? { itemsPerSecond: extracted / seconds } : {}),
      });
      if (cached) return { ...common, complete: true, block: blockOf(ref, cached) };
      if (attempt === 3)
        throw new AftError(
          'run_failed',
          `feature cache ${entry.dir}: chunks were found damaged again after being extracted again; check the disk`,
        );
    }
  } finally {
    if (!opts.sessions) await sessions.releaseAll();
  }
}
