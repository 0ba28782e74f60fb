/**
 * The feature cache: `<workspace>/.aft/cache/features/<key>/`, one folder per (model bytes,
 * preprocessing, pooling, dataset content). docs/feature-cache.md describes it.
 *
 * - `plan.json`: total rows and rows per chunk, fixed by the first writer so every shard cuts the
 *   same chunks.
 * - `chunks/<start>-<end>.safetensors`: extracted rows, each written atomically; a crash, kill or
 *   cancel loses at most the chunk in progress, and a later run (or another shard) resumes.
 * - `features.safetensors` (`train`, `test`) then `meta.json`, written atomically and in that
 *   order once every chunk is there: an entry is complete only when meta.json exists.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  encodeSafetensors,
  readSafetensors,
  readSafetensorsBytes,
  readSafetensorsHeader,
} from '../../../core/node/io/safetensors';
import { AftError } from '../../../core/common/util/errors';
import {
  readJson,
  removeQuietly,
  removeStaleTemps,
  writeFailure,
  WriteError,
  writeFileAtomic,
  writeJsonAtomic,
} from '../../../core/node/util/fsx';

export const FEATURE_CACHE_DIR = path.join('.aft', 'cache', 'features');
export const CACHE_FORMAT = 'aft-feature-cache';
export const CACHE_VERSION = 1;

export interface CacheMeta {
  format: typeof CACHE_FORMAT;
  version: typeof CACHE_VERSION;
  key: string;
  /** What was hashed into the key (model hash, preprocessing, pooling, dataset hashes). */
  keyParts: unknown;
  source: string;
  model: string;
  provider: string;
  width: number;
  rows: { train: number; test: number };
  created: string;
  /** Items per second of the extraction that completed the entry (its own chunks only). */
  itemsPerSecond?: number;
  /** Size and sha256 of features.safetensors, checked on every read (absent in older entries). */
  features?: { bytes: number; sha256: string };
}

export interface CachePlan {
  total: number;
  chunkRows: number;
}

export interface Cached {
  meta: CacheMeta;
  train: Float32Array;
  test: Float32Array;
}

/** A stable sha256 of a JSON value (object keys sorted). */
export function hashJson(value: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(value)))
    .digest('hex');
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 22);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * sha256 of a model: the .onnx file and its external-data files (`<name>_data`, `<name>.data`,
 * …). Large models are hashed once per (path, size, mtime); the answer is kept in the cache root.
 */
export function modelHash(file: string, cacheRoot: string): string {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const parts = [
    file,
    ...fs
      .readdirSync(dir)
      .filter((n) => n !== base && (n.startsWith(`${base}_`) || n.startsWith(`${base}.`)))
      .sort()
      .map((n) => path.join(dir, n)),
  ];
  const stats = parts.map((p) => {
    const s = fs.statSync(p);
    return { p, size: s.size, mtime: s.mtimeMs };
  });
  const memo = path.join(cacheRoot, 'model-hashes', `${createHash('sha1').update(file).digest('hex')}.json`);
  try {
    const m = readJson<{ stats: typeof stats; sha256: string }>(memo);
    if (JSON.stringify(m.stats) === JSON.stringify(stats)) return m.sha256;
  } catch {
    // No memo yet, or an unreadable one: hash again.
  }
  const h = createHash('sha256');
  for (const p of parts) h.update(`${path.basename(p)}\0${sha256File(p)}\0`);
  const sha256 = h.digest('hex');
  try {
    writeJsonAtomic(memo, { stats, sha256 });
  } catch {
    // The memo only saves time; a read-only cache still works.
  }
  return sha256;
}

/** Wraps a failed cache write (disk full, read-only) in a message that says which file, and what to do. */
function writeOrExplain(file: string, write: () => void): void {
  try {
    write();
  } catch (e) {
    const w = writeFailure(file, e);
    throw new WriteError(
      w.file,
      w.errno,
      w.why,
      `cannot write the feature cache file ${w.file}: ${w.why}; nothing partial was left under the final name (${w.diskFull ? 'free space' : 'make the folder writable'} and run again to resume)`,
    );
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const f32Bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A chunk or entry whose bytes are not what was written (cut short, or changed since). */
class Damaged extends Error {}

export class FeatureCacheEntry {
  readonly dir: string;

  constructor(
    readonly root: string,
    readonly key: string,
    private readonly log: (m: string) => void = () => {},
  ) {
    this.dir = path.join(root, key);
  }

  private get chunkDir(): string {
    return path.join(this.dir, 'chunks');
  }

  /** Removes what dead writers left (temporary files); called when the entry is opened. */
  private clean(): void {
    for (const d of [this.dir, this.chunkDir, path.join(this.root, 'model-hashes')]) removeStaleTemps(d);
  }

  /**
   * The complete entry, or undefined: absent, incomplete, or damaged (its files do not match the
   * sizes and sha256 in meta.json, or do not parse), which is said, removed and then extracted again.
   */
  read(): Cached | undefined {
    this.clean();
    const metaFile = path.join(this.dir, 'meta.json');
    const featsFile = path.join(this.dir, 'features.safetensors');
    if (!fs.existsSync(metaFile)) return undefined;
    try {
      let meta: CacheMeta;
      try {
        meta = readJson<CacheMeta>(metaFile);
      } catch (e) {
        throw new Damaged(`meta.json is not valid JSON (${(e as Error).message.split('\n')[0]})`);
      }
      if (meta.format !== CACHE_FORMAT || meta.version !== CACHE_VERSION)
        throw new Damaged(`meta.json is not a ${CACHE_FORMAT} v${CACHE_VERSION}`);
      const bytes = fs.readFileSync(featsFile);
      if (meta.features && bytes.length !== meta.features.bytes)
        throw new Damaged(`features.safetensors has ${bytes.length} bytes, meta.json says ${meta.features.bytes}`);
      if (meta.features && sha256(bytes) !== meta.features.sha256)
        throw new Damaged('features.safetensors does not match the sha256 in meta.json');
      const { tensors } = readSafetensorsBytes(bytes, featsFile);
      const [tr, te] = [tensors.train, tensors.test];
      if (!tr || !te || tr.shape[0] !== meta.rows.train || te.shape[0] !== meta.rows.test)
        throw new Damaged('features.safetensors does not match meta.json');
      return { meta, train: tr.data, test: te.data };
    } catch (e) {
      this.log(`feature cache ${this.dir} is damaged (${(e as Error).message.split('\n')[0]}); extracting again`);
      removeQuietly(metaFile);
      removeQuietly(featsFile);
      return undefined;
    }
  }

  /** The chunking every shard uses, created by the first one to get here (again if its file is damaged). */
  plan(total: number, chunkRows: number): CachePlan {
    const file = path.join(this.dir, 'plan.json');
    if (fs.existsSync(file)) {
      try {
        const p = readJson<CachePlan>(file);
        if (p.total === total && Number.isInteger(p.chunkRows) && p.chunkRows > 0) return p;
      } catch {
        this.log(`feature cache plan ${file} is damaged; writing it again`);
      }
    }
    const p = { total, chunkRows };
    writeOrExplain(file, () => writeJsonAtomic(file, p));
    return p;
  }

  chunkFile(start: number, end: number): string {
    return path.join(this.chunkDir, `${start}-${end}.safetensors`);
  }

  /**
   * Whether chunk start..end is there whole: its header parses, says end - start rows, and the
   * file has exactly the bytes the header says. A damaged chunk is said, removed and reads as missing.
   */
  hasChunk(start: number, end: number): boolean {
    const file = this.chunkFile(start, end);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return false;
    }
    try {
      const h = readSafetensorsHeader(file);
      const t = h.tensors.features;
      if (!t || t.shape[0] !== end - start || h.dataStart + t.data_offsets[1] !== size)
        throw new Damaged(`${size} bytes do not hold ${end - start} rows as its header says`);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      this.dropChunk(file, e);
      return false;
    }
  }

  private dropChunk(file: string, e: unknown): void {
    this.log(`feature cache chunk ${file} is damaged (${(e as Error).message.split('\n')[0]}); extracting it again`);
    removeQuietly(file);
  }

  writeChunk(start: number, end: number, width: number, data: Float32Array): void {
    const file = this.chunkFile(start, end);
    writeOrExplain(file, () =>
      writeFileAtomic(
        file,
        encodeSafetensors({ features: { shape: [end - start, width], data } }, { sha256: sha256(f32Bytes(data)) }),
      ),
    );
  }

  /** A chunk's rows, checked against the sha256 its header records; undefined (and removed) when damaged or gone. */
  readChunk(start: number, end: number): { width: number; data: Float32Array } | undefined {
    const file = this.chunkFile(start, end);
    try {
      const { tensors, metadata } = readSafetensors(file);
      const t = tensors.features;
      if (!t || t.shape[0] !== end - start) throw new Damaged(`it does not hold ${end - start} rows`);
      if (metadata.sha256 !== undefined && sha256(f32Bytes(t.data)) !== metadata.sha256)
        throw new Damaged('its rows do not match the sha256 in its header');
      return { width: t.shape[1], data: t.data };
    } catch (e) {
      if (!fs.existsSync(file)) return undefined; // merged and removed by another shard meanwhile
      this.dropChunk(file, e);
      return undefined;
    }
  }

  /**
   * Writes the complete entry from the chunks, then removes them. Undefined when a chunk turned
   * out damaged (it was removed: extract it again) or gone.
   */
  finish(plan: CachePlan, nTrain: number, meta: Omit<CacheMeta, 'width' | 'rows' | 'features'>): Cached | undefined {
    const parts: Float32Array[] = [];
    let width = -1;
    for (let s = 0; s < plan.total; s += plan.chunkRows) {
      const c = this.readChunk(s, Math.min(plan.total, s + plan.chunkRows));
      if (!c) return undefined;
      if (width >= 0 && c.width !== width)
        throw new AftError(
          'run_failed',
          `feature cache chunks in ${this.chunkDir} disagree on the width (${width} vs ${c.width}); delete the folder to extract again`,
        );
      width = c.width;
      parts.push(c.data);
    }
    const all = new Float32Array(plan.total * Math.max(width, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    const train = all.slice(0, nTrain * width);
    const test = all.slice(nTrain * width);
    const feats = path.join(this.dir, 'features.safetensors');
    const bytes = encodeSafetensors(
      { train: { shape: [nTrain, width], data: train }, test: { shape: [plan.total - nTrain, width], data: test } },
      { key: this.key },
    );
    writeOrExplain(feats, () => writeFileAtomic(feats, bytes));
    const full: CacheMeta = {
      ...meta,
      width,
      rows: { train: nTrain, test: plan.total - nTrain },
      features: { bytes: bytes.length, sha256: sha256(bytes) },
    };
    const metaFile = path.join(this.dir, 'meta.json');
    writeOrExplain(metaFile, () => writeJsonAtomic(metaFile, full));
    removeQuietly(this.chunkDir);
    removeQuietly(path.join(this.dir, 'plan.json'));
    return { meta: full, train, test };
  }
}
