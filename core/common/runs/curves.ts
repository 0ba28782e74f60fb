/**
 * A run's training curves as full-resolution float64 columns, one series per training job
 * (method × seed × phase × β), and their binary cache `metrics.cols`.
 *
 * Why a cache: metrics.jsonl is the record, but parsing it is slow at scale (9 series × 50,000
 * rows is 118 MiB of JSON, ~2 s of `JSON.parse` alone), and a dashboard should open in under a
 * second. The run store keeps these columns as it appends rows and writes them, atomically, every
 * minute and when the run ends; a reader loads them in milliseconds and parses only the lines
 * written after them. The cache names the byte length of metrics.jsonl it covers and the last
 * bytes there, so a cache that does not match the file is ignored, never believed.
 *
 * Pure (no Node, no DOM): the extension host, the CLI report and the sidecar share it.
 */
import { checkMetricsRow, type MetricsRow } from './records';

/** The metrics a run logs at every evaluation (columns of metrics.jsonl), as charted. */
export const METRICS = ['loss', 'ce', 'reg', 'trainAccuracy', 'evalAccuracy'] as const;
export type MetricName = (typeof METRICS)[number];

/** The curve key of a source's mean ρ (from the `rho` summaries in metrics.jsonl). */
export const rhoCurveKey = (source: string): string => `rho:${source}`;

/** The id of a series: unique per method × seed × phase × β. */
export const seriesId = (method: string, seed: number, phase: 'tune' | 'final', beta: number): string =>
  `${method}/${seed}/${phase}/${beta}`;

/** A growable column of float64s (amortised doubling; a 50,000-row series is 400 kB). */
export class Column {
  private data: Float64Array;
  length: number;

  constructor(initial?: Float64Array) {
    this.data = initial ?? new Float64Array(64);
    this.length = initial?.length ?? 0;
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(Math.max(64, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

export class CurveSeries {
  readonly step: Column;
  readonly columns = new Map<string, Column>();

  constructor(
    readonly id: string,
    readonly method: string,
    readonly seed: number,
    readonly phase: 'tune' | 'final',
    readonly beta: number,
    step?: Column,
  ) {
    this.step = step ?? new Column();
  }

  get rows(): number {
    return this.step.length;
  }

  add(row: MetricsRow): void {
    const n = this.step.length;
    this.step.push(row.step);
    for (const m of METRICS) this.column(m, n).push(row[m]);
    let rhoCount = 0;
    if (row.rho) {
      for (const source in row.rho) {
        this.column(rhoCurveKey(source), n).push(row.rho[source].mean);
        rhoCount++;
      }
    }
    // A source missing from this row (or a row without ρ) leaves a gap in its curve.
    if (this.columns.size > METRICS.length + rhoCount) {
      for (const col of this.columns.values()) if (col.length === n) col.push(NaN);
    }
  }

  /** The column for a curve; one that starts late (a source first reported mid-run) begins with gaps. */
  private column(key: string, n: number): Column {
    let col = this.columns.get(key);
    if (!col) {
      col = new Column();
      for (let i = 0; i < n; i++) col.push(NaN);
      this.columns.set(key, col);
    }
    return col;
  }
}

/** The series of one run, in the order their first row came. */
export class CurveColumns {
  private readonly series = new Map<string, CurveSeries>();

  /** Adds rows; returns the ids of the series they touched. */
  add(rows: Iterable<MetricsRow>): Set<string> {
    const touched = new Set<string>();
    for (const row of rows) {
      const id = seriesId(row.method, row.seed, row.phase, row.beta);
      let s = this.series.get(id);
      if (!s) {
        s = new CurveSeries(id, row.method, row.seed, row.phase, row.beta);
        this.series.set(id, s);
      }
      s.add(row);
      touched.add(id);
    }
    return touched;
  }

  /** Takes in series loaded from a cache (replacing any of the same id); returns their ids. */
  load(series: Iterable<CurveSeries>): Set<string> {
    const touched = new Set<string>();
    for (const s of series) {
      this.series.set(s.id, s);
      touched.add(s.id);
    }
    return touched;
  }

  clear(): void {
    this.series.clear();
  }

  get(id: string): CurveSeries | undefined {
    return this.series.get(id);
  }

  all(): CurveSeries[] {
    return [...this.series.values()];
  }
}

/** The file name of the cache, next to metrics.jsonl. */
export const CURVE_CACHE_FILE = 'metrics.cols';
const MAGIC = 'AFTCOLS1';
/** How many of metrics.jsonl's bytes just before the covered length the cache quotes. */
export const CURVE_CACHE_TAIL_BYTES = 64;

/** Which part of metrics.jsonl a cache holds. */
export interface CurveCacheCover {
  /** Bytes of metrics.jsonl covered (always just after a newline). */
  bytes: number;
  /** Lines covered (for line numbers in messages about later lines). */
  lines: number;
  /** The covered part's last bytes (up to `CURVE_CACHE_TAIL_BYTES`), hex. */
  tail: string;
}

interface CacheHeader {
  format: 'aft-metrics-columns';
  version: 1;
  cover: CurveCacheCover;
  series: {
    id: string;
    method: string;
    seed: number;
    phase: 'tune' | 'final';
    beta: number;
    rows: number;
    columns: string[];
  }[];
}

/**
 * Builds the cache of a metrics.jsonl as its lines are written: the run store feeds it every line
 * it appends, so the cache is what a reader would get by parsing those lines.
 */
export class CurveCacheBuilder {
  readonly curves = new CurveColumns();
  private bytes = 0;
  private lineCount = 0;
  private tail = new Uint8Array(0);
  private readonly encoder = new TextEncoder();

  get lines(): number {
    return this.lineCount;
  }

  /** One whole line of metrics.jsonl as written, with its newline. */
  addLine(line: string): void {
    const bytes = this.encoder.encode(line);
    // The row as a reader parses it (NaN written as null reads back as NaN).
    const checked = checkMetricsRow(JSON.parse(line));
    if (checked.ok) this.curves.add([checked.value]);
    this.bytes += bytes.length;
    this.lineCount++;
    const joined = new Uint8Array(this.tail.length + bytes.length);
    joined.set(this.tail);
    joined.set(bytes, this.tail.length);
    this.tail = joined.slice(-CURVE_CACHE_TAIL_BYTES);
  }

  /** The part of metrics.jsonl fed so far. */
  cover(): CurveCacheCover {
    return { bytes: this.bytes, lines: this.lineCount, tail: toHex(this.tail) };
  }

  encode(): Uint8Array {
    return encodeCurveCache(this.curves, this.cover());
  }
}

export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The cache's bytes: "AFTCOLS1", the header's length (u32 LE), the JSON header, zero padding to a
 * multiple of 8, then per series its steps and each column in the header's order (float64 LE).
 */
export function encodeCurveCache(curves: CurveColumns, cover: CurveCacheCover): Uint8Array {
  const all = curves.all();
  const header: CacheHeader = {
    format: 'aft-metrics-columns',
    version: 1,
    cover,
    series: all.map((s) => ({
      id: s.id,
      method: s.method,
      seed: s.seed,
      phase: s.phase,
      beta: s.beta,
      rows: s.rows,
      columns: [...s.columns.keys()],
    })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((MAGIC.length + 4 + json.length) / 8) * 8;
  const floats = all.reduce((n, s) => n + s.rows * (1 + s.columns.size), 0);
  const out = new Uint8Array(start + floats * 8);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  const body = new Float64Array(out.buffer, start, floats);
  let at = 0;
  for (const s of all) {
    body.set(s.step.view(), at);
    at += s.rows;
    for (const col of s.columns.values()) {
      body.set(col.view(), at);
      at += s.rows;
    }
  }
  return out;
}

/** Reads a cache's bytes; throws with what is wrong when they are not one. */
export function decodeCurveCache(bytes: Uint8Array): { cover: CurveCacheCover; series: CurveSeries[] } {
  const fail = (why: string): never => {
    throw new Error(`not a metrics column cache: ${why}`);
  };
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC)
    fail('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(MAGIC.length, true);
  const start = Math.ceil((MAGIC.length + 4 + jsonLength) / 8) * 8;
  if (start > bytes.length) fail('truncated header');
  let header: CacheHeader;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLength)),
    ) as CacheHeader;
  } catch {
    return fail('the header is not JSON');
  }
  if (header.format !== 'aft-metrics-columns' || header.version !== 1 || !Array.isArray(header.series))
    fail('unknown format or version');
  const { cover } = header;
  if (!Number.isInteger(cover?.bytes) || !Number.isInteger(cover.lines) || typeof cover.tail !== 'string')
    fail('bad cover');
  const floats = header.series.reduce((n, s) => n + s.rows * (1 + s.columns.length), 0);
  if (start + floats * 8 !== bytes.length) fail(`expected ${start + floats * 8} bytes, found ${bytes.length}`);
  // A view when the bytes are 8-byte aligned (a file read whole), else one copy.
  const aligned = (bytes.byteOffset + start) % 8 === 0;
  const body = aligned
    ? new Float64Array(bytes.buffer, bytes.byteOffset + start, floats)
    : new Float64Array(bytes.slice(start).buffer, 0, floats);
  let at = 0;
  const take = (n: number): Column => {
    // A view: a full column reallocates on its next push, so it never writes into its neighbour.
    const col = new Column(body.subarray(at, at + n));
    at += n;
    return col;
  };
  const series = header.series.map((h) => {
    const s = new CurveSeries(h.id, h.method, h.seed, h.phase, h.beta, take(h.rows));
    for (const key of h.columns) s.columns.set(key, take(h.rows));
    return s;
  });
  return { cover, series };
}
