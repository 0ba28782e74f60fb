/**
 * Reads a run folder as it is being written, for dashboards and `aft report`: tails
 * metrics.jsonl from where the last read stopped (a half-written last line waits for the next
 * read), re-reads ρ files, status.json and summary.json when their size or mtime changes. The
 * run store's writes are atomic or append-only (docs/run-store.md), so polling sees whole files.
 * Free of `vscode` so that the extension, the CLI and plain-Node tests share it.
 */
import { isAscii } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CURVE_CACHE_FILE,
  CURVE_CACHE_TAIL_BYTES,
  decodeCurveCache,
  toHex,
  type CurveCacheCover,
  type CurveSeries,
} from '../../common/runs/curves';
import { checkCurveViewFile, CURVE_VIEW_FILE } from '../../common/runs/curveViews';
import {
  checkMetricsRow,
  checkRhoFile,
  checkStatus,
  checkSummary,
  type Checked,
  type MetricsRow,
  type RunStatus,
} from '../../common/runs/records';
import type { RunChanges } from '../../common/runs/changes';
import { readRunStatus } from './store';
import { JOBS_DIR, parseJobMetricsName, SHARD_PLAN_FILE } from './shardRecords';

/** metrics.jsonl is read in slices of this size (about 4,000 rows)... */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** ...for at most this long per poll, so the extension host is never blocked for long. */
export const DEFAULT_BUDGET_MS = 50;

export class RunReader {
  private offset = 0;
  private lineNo = 0;
  private readonly stamps = new Map<string, string>();
  private lastStatus = '';

  constructor(
    readonly dir: string,
    /** What to read besides status and summary (the comparison view needs neither). */
    private readonly parts: {
      metrics?: boolean;
      rho?: boolean;
      chunkBytes?: number;
      budgetMs?: number;
      /**
       * Take metrics.view.json when it holds views of at least this many points per curve (the
       * most its reader will send: fewer are taken from them) and matches metrics.jsonl.
       */
      viewPoints?: number;
    } = {},
  ) {}

  /** A sharded run's job metrics files read so far (before its metrics.jsonl exists): bytes and lines of each. */
  private jobFiles: Map<number, { name: string; offset: number; lines: number }> | undefined;

  /** The views were taken: rows appended after them (never, for a finished run) mean reading everything again. */
  private onViews = false;

  /** What changed since the last call (everything, on the first). */
  poll(): RunChanges {
    const changes: RunChanges = { rows: [], rho: [], problems: [], more: false };
    if (this.parts.metrics !== false) this.readMetrics(changes);
    if (this.parts.rho !== false) {
      for (const file of this.rhoFiles()) {
        const rho = this.readJsonIfChanged(file, checkRhoFile, changes);
        if (rho) changes.rho.push(rho);
      }
    }
    // The summary first: a run writes it before it says `completed`.
    const summary = this.readJsonIfChanged(path.join(this.dir, 'summary.json'), checkSummary, changes);
    if (summary) changes.summary = summary;
    const status = this.readStatus(changes);
    if (status) changes.status = status;
    return changes;
  }

  /**
   * status.json as readers must see it (`readRunStatus`): a `running` run whose process is gone
   * is failed. While a run is running this is re-checked every poll, since a dead process
   * changes no file.
   */
  private readStatus(changes: RunChanges): RunStatus | undefined {
    let raw: RunStatus;
    try {
      raw = readRunStatus(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        const msg = `${path.join(this.dir, 'status.json')}: ${(e as Error).message}`;
        if (!changes.problems.includes(msg) && this.lastStatus !== msg) changes.problems.push(msg);
        this.lastStatus = msg;
      }
      return undefined;
    }
    const checked = checkStatus(raw);
    const key = checked.ok ? JSON.stringify(checked.value) : checked.error;
    if (key === this.lastStatus) return undefined;
    this.lastStatus = key;
    if (!checked.ok) {
      changes.problems.push(`${path.join(this.dir, 'status.json')}: ${checked.error}`);
      return undefined;
    }
    return checked.value;
  }

  private readMetrics(changes: RunChanges): void {
    const file = path.join(this.dir, 'metrics.jsonl');
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      // Not written yet; a sharded run's rows are in its jobs' files until its summary step.
      if (fs.existsSync(path.join(this.dir, SHARD_PLAN_FILE))) this.readJobMetrics(changes);
      return;
    }
    if (this.jobFiles) {
      // The summary step wrote metrics.jsonl (the same rows, merged): read it instead, from the start.
      changes.reset = true;
      this.jobFiles = undefined;
    }
    if (size < this.offset) {
      // Truncated or replaced: the rows read so far are stale, but appended rows never shrink a
      // file, so this is a different run's file; start over and say so.
      changes.problems.push(`${file}: the file shrank from ${this.offset} to ${size} bytes; reading it again`);
      changes.reset = true;
      this.offset = 0;
      this.lineNo = 0;
    }
    if (this.onViews && size !== this.offset) {
      changes.problems.push(`${file}: changed after ${CURVE_VIEW_FILE} was read; reading it again`);
      changes.reset = true;
      this.offset = 0;
      this.lineNo = 0;
      this.onViews = false;
      this.parts.viewPoints = undefined;
    }
    if (
      this.offset === 0 &&
      size > 0 &&
      !(this.parts.viewPoints !== undefined && this.loadCurveViews(file, size, changes, this.parts.viewPoints))
    )
      this.loadCurveCache(file, size, changes);
    if (size === this.offset) return;
    const started = performance.now();
    const budget = this.parts.budgetMs ?? DEFAULT_BUDGET_MS;
    const fd = fs.openSync(file, 'r');
    let waiting = false;
    try {
      // Slices of about a megabyte (faster to decode and parse than big ones), as many as fit
      // in the time budget; what is left is read by the next poll.
      for (let first = true; this.offset < size && (first || performance.now() - started < budget); first = false) {
        const chunk = this.parts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
        const length = Math.min(size - this.offset, chunk);
        const buf = Buffer.allocUnsafe(length);
        fs.readSync(fd, buf, 0, length, this.offset);
        // Cut at the last newline; the rest (a line being written, or a split multi-byte
        // character) is read again next time.
        const lastNl = buf.lastIndexOf(0x0a);
        if (lastNl < 0) {
          if (length < chunk) {
            waiting = true; // a line still being written: the next poll reads it
            break;
          }
          this.parts.chunkBytes = chunk * 2; // a line longer than a slice
          continue;
        }
        const body = buf.subarray(0, lastNl + 1);
        this.offset += body.length;
        // Metrics are nearly always ASCII, which decodes faster as latin1.
        const text = body.toString(isAscii(body) ? 'latin1' : 'utf8');
        parseMetricsLines(text, this.lineNo, file, changes);
        this.lineNo += countLines(text);
      }
    } finally {
      fs.closeSync(fd);
    }
    changes.more = waiting === false && this.offset < size;
  }

  /**
   * A sharded run's rows while it trains: each job's metrics file (the one of the newest
   * generation of its claim) tailed as metrics.jsonl is, whole lines. A job taken over by another
   * process (a newer generation's file) makes every row be read again.
   */
  private readJobMetrics(changes: RunChanges): void {
    const dir = path.join(this.dir, JOBS_DIR);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    const newest = new Map<number, { name: string; generation: number }>();
    for (const name of names) {
      const m = parseJobMetricsName(name);
      if (m && (newest.get(m.index)?.generation ?? -1) < m.generation)
        newest.set(m.index, { name, generation: m.generation });
    }
    const sizes = new Map<number, number>();
    for (const [k, f] of newest) {
      try {
        sizes.set(k, fs.statSync(path.join(dir, f.name)).size);
      } catch {
        // removed meanwhile: an older generation, cleaned up by the process that took the job over
      }
    }
    const read = (this.jobFiles ??= new Map<number, { name: string; offset: number; lines: number }>());
    if ([...read].some(([k, at]) => newest.get(k)?.name !== at.name || (sizes.get(k) ?? -1) < at.offset)) {
      changes.reset = true;
      read.clear();
    }
    for (const k of [...sizes.keys()].sort((a, b) => a - b)) {
      const name = newest.get(k)!.name;
      const at = read.get(k) ?? { name, offset: 0, lines: 0 };
      const size = sizes.get(k)!;
      if (size > at.offset) {
        const file = path.join(dir, name);
        const buf = Buffer.allocUnsafe(size - at.offset);
        const fd = fs.openSync(file, 'r');
        try {
          fs.readSync(fd, buf, 0, buf.length, at.offset);
        } finally {
          fs.closeSync(fd);
        }
        const body = buf.subarray(0, buf.lastIndexOf(0x0a) + 1); // a line being written waits
        const text = body.toString('utf8');
        parseMetricsLines(text, at.lines, file, changes);
        at.offset += body.length;
        at.lines += countLines(text);
      }
      read.set(k, at);
    }
  }

  /** Throws unless `cover` is metrics.jsonl's first `cover.bytes` bytes (its tail quotes the bytes just before). */
  private covers(file: string, size: number, cover: CurveCacheCover): void {
    if (cover.bytes > size) throw new Error(`it covers ${cover.bytes} bytes of metrics.jsonl, which has ${size}`);
    const tailLength = Math.min(cover.bytes, CURVE_CACHE_TAIL_BYTES);
    const tail = Buffer.alloc(tailLength);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, tail, 0, tailLength, cover.bytes - tailLength);
    } finally {
      fs.closeSync(fd);
    }
    if (toHex(tail) !== cover.tail) throw new Error('metrics.jsonl is not the file it was made from');
  }

  /**
   * Takes metrics.view.json when it was made from the whole of metrics.jsonl as it is now, with
   * at least `viewPoints` per curve; returns whether it did. A file that is there but cannot be
   * used is said (then metrics.cols or the JSON is read instead).
   */
  private loadCurveViews(file: string, size: number, changes: RunChanges, viewPoints: number): boolean {
    const viewFile = path.join(this.dir, CURVE_VIEW_FILE);
    let text: string;
    try {
      text = fs.readFileSync(viewFile, 'utf8');
    } catch {
      return false;
    }
    try {
      const checked = checkCurveViewFile(JSON.parse(text));
      if (!checked.ok) throw new Error(checked.error);
      const views = checked.value;
      if (views.maxPoints < viewPoints) return false; // too coarse for this reader's charts: not wrong, just not for it
      if (views.cover.bytes !== size)
        throw new Error(`it was made from ${views.cover.bytes} bytes of metrics.jsonl, which now has ${size}`);
      this.covers(file, size, views.cover);
      changes.views = views.series;
      this.offset = views.cover.bytes;
      this.lineNo = views.cover.lines;
      this.onViews = true;
      return true;
    } catch (e) {
      changes.problems.push(`${viewFile}: ignored (${(e as Error).message})`);
      return false;
    }
  }

  /**
   * Starts from metrics.cols when it matches metrics.jsonl: it must cover no more than the file
   * holds and quote the file's bytes just before where it stops. Anything else is ignored (and
   * said, unless there is simply no cache), and the JSON is parsed instead.
   */
  private loadCurveCache(file: string, size: number, changes: RunChanges): void {
    const cacheFile = path.join(this.dir, CURVE_CACHE_FILE);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(cacheFile);
    } catch {
      return;
    }
    try {
      const { cover, series } = decodeCurveCache(bytes);
      this.covers(file, size, cover);
      changes.series = series;
      this.offset = cover.bytes;
      this.lineNo = cover.lines;
    } catch (e) {
      changes.problems.push(`${cacheFile}: ignored (${(e as Error).message}); reading metrics.jsonl instead`);
    }
  }

  private rhoFiles(): string[] {
    const root = path.join(this.dir, 'rho');
    let methods: string[];
    try {
      methods = fs.readdirSync(root);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const m of methods.sort()) {
      let files: string[] = [];
      try {
        files = fs.readdirSync(path.join(root, m));
      } catch {
        continue; // a file where a method folder should be
      }
      for (const f of files.sort()) if (/^seed-\d+\.json$/.test(f)) out.push(path.join(root, m, f));
    }
    return out;
  }

  private readJsonIfChanged<T>(file: string, check: (raw: unknown) => Checked<T>, changes: RunChanges): T | undefined {
    let stamp: string;
    try {
      const st = fs.statSync(file);
      stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      return undefined;
    }
    if (this.stamps.get(file) === stamp) return undefined;
    this.stamps.set(file, stamp);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      changes.problems.push(`${file}: not valid JSON (${(e as Error).message})`);
      return undefined;
    }
    const r = check(raw);
    if (!r.ok) {
      changes.problems.push(`${file}: ${r.error}`);
      return undefined;
    }
    return r.value;
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Parses complete lines, one `JSON.parse` each (faster here than one call on a joined array). */
function parseMetricsLines(text: string, firstLine: number, file: string, changes: RunChanges): void {
  let start = 0;
  let line = firstLine;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const s = text.slice(start, end);
    start = end + 1;
    if (s.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(s);
    } catch {
      changes.problems.push(`${file}:${line}: not a JSON object; skipped`);
      continue;
    }
    const r = checkMetricsRow(raw);
    if (r.ok) changes.rows.push(r.value);
    else changes.problems.push(`${file}:${line}: ${r.error}`);
  }
}

/**
 * Every curve of a run at full resolution (metrics.cols and the lines after it, or the whole
 * JSON), read in one go: for a CSV export of a run whose dashboard opened from its views.
 */
export function readAllCurves(dir: string): { series?: CurveSeries[]; rows: MetricsRow[]; problems: string[] } {
  const reader = new RunReader(dir, { rho: false, budgetMs: Number.POSITIVE_INFINITY });
  const out: { series?: CurveSeries[]; rows: MetricsRow[]; problems: string[] } = { rows: [], problems: [] };
  for (let more = true; more;) {
    const c = reader.poll();
    if (c.series) out.series = c.series;
    for (const r of c.rows) out.rows.push(r);
    out.problems.push(...c.problems);
    more = c.more;
  }
  return out;
}
