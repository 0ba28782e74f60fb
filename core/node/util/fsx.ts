/**
 * Every file the run store and the caches write goes through here: whole files atomically
 * (temporary sibling, every byte written, fsync, size checked, rename) and append-only files
 * whole lines at a time (a failed append is cut back to where it started). A write that fails
 * says which file and why (`WriteError`: "disk full: N bytes needed"), and never leaves a partial
 * file under the final name. Temporary siblings of dead processes are removed by
 * `removeStaleTemps` when a store or cache opens.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AftError } from '../../common/util/errors';
import { faultAt } from './faults';
import { pidAlive } from './process';

/** A write that failed: the file, the system's code (ENOSPC, EROFS, …) and a message that says both. */
export class WriteError extends AftError {
  constructor(
    readonly file: string,
    readonly errno: string | undefined,
    /** Why, e.g. "disk full: 4096 bytes needed, 0 free". */
    readonly why: string,
    message = `cannot write ${file}: ${why}`,
  ) {
    super('run_failed', message);
    this.name = 'WriteError';
  }

  get diskFull(): boolean {
    return this.errno === 'ENOSPC' || this.errno === 'EDQUOT';
  }
}

function freeBytes(dir: string): number | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      const s = fs.statfsSync(d);
      return s.bavail * s.bsize;
    } catch {
      if (path.dirname(d) === d) return undefined;
    }
  }
}

/** The error a failed write of `bytes` bytes to `file` (or the creation of a folder) is reported as. */
export function writeFailure(file: string, e: unknown, bytes?: number): WriteError {
  if (e instanceof WriteError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  let why: string;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const free = freeBytes(path.dirname(file));
    why = `disk full${bytes !== undefined ? `: ${bytes} bytes needed` : ''}${free !== undefined ? `, ${free} free` : ''}${code === 'EDQUOT' ? ' (quota exceeded)' : ''}`;
  } else if (code === 'EROFS') why = 'the file system is read-only (EROFS)';
  else if (code === 'EACCES' || code === 'EPERM') why = `permission denied (${code})`;
  else why = (e as Error).message;
  return new WriteError(file, code, why);
}

/** Removes a file or folder if it can (on a read-only disk it cannot: it is then removed as stale later). */
export function removeQuietly(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // read-only
  }
}

/** Writes all of `buf` (a write may take fewer bytes than asked: a disk that fills up). */
function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off);
    if (n <= 0)
      throw Object.assign(new Error(`ENOSPC: the write of ${buf.length - off} bytes stored none`), { code: 'ENOSPC' });
    off += n;
  }
}

/** `mkdir -p`, one level at a time so that a failure says why (Node's recursive mkdir says ENOENT on a read-only disk). */
function ensureDir(dir: string): void {
  try {
    if (fs.statSync(dir).isDirectory()) return;
  } catch {
    // not there yet
  }
  const parent = path.dirname(dir);
  if (parent !== dir) ensureDir(parent);
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

const asBytes = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data) : data);

/** This host in temporary names, so that a process on another machine sharing the folder is never taken for a dead one here. */
const HOST_TAG = createHash('sha1').update(os.hostname()).digest('hex').slice(0, 6);
/** `<final name>.tmp-<host>-<pid>-<random>` (older versions wrote `.tmp-<pid>-<random>`). */
const TEMP = /\.tmp-(?:([0-9a-f]{6})-)?(\d+)-[a-z0-9]+$/;

/** Whether a file or folder name is a temporary one of these writes (never a final name). */
export function isTempName(name: string): boolean {
  return TEMP.test(name);
}

export function tempName(file: string): string {
  return `${file}.tmp-${HOST_TAG}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Temporary files and folders left by processes that are gone are removed after this long regardless of host. */
const STALE_MS = 24 * 3600_000;

/**
 * Removes the temporary files (and staging folders) in `dir` left by dead writers: this host's
 * whose process is gone, and anyone's older than a day. Returns the names removed; never throws.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  const now = Date.now();
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const p = path.join(dir, name);
    const [, host, pid] = m;
    const mine = host === undefined || host === HOST_TAG;
    let stale = mine && Number(pid) !== process.pid && !pidAlive(Number(pid));
    if (!stale) {
      try {
        stale = now - fs.statSync(p).mtimeMs > STALE_MS;
      } catch {
        continue;
      }
    }
    if (!stale) continue;
    try {
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // read-only, or someone else removed it: nothing to do
    }
  }
  return removed;
}

/**
 * Writes a file so that readers see either the old content or the whole new content, never a
 * prefix: every byte to a temporary sibling, fsync, its size checked, then renamed over the
 * final name. Throws a `WriteError` naming `file`.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = asBytes(data);
  const fault = faultAt(file, bytes.length);
  const tmp = tempName(file);
  try {
    fault?.before();
    ensureDir(path.dirname(file));
    const fd = fs.openSync(tmp, 'w');
    try {
      if (fault?.action === 'kill') {
        writeAll(fd, bytes.subarray(0, fault.killAfter));
        fault.die();
      }
      writeAll(fd, bytes);
      fs.fsyncSync(fd);
      const size = fs.fstatSync(fd).size;
      if (size !== bytes.length) throw new Error(`${size} of ${bytes.length} bytes reached the disk`);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    throw writeFailure(file, e, bytes.length);
  } finally {
    fault?.after();
  }
}

/**
 * Creates `file` with `data` only if no file of that name exists, whole (every byte is written
 * to a temporary sibling and fsynced first, then hard-linked into place: `link` fails with
 * EEXIST atomically, on NFS too, so of two processes exactly one creates it and a reader never
 * sees it part-written). Returns false when the name exists; throws a `WriteError` otherwise.
 */
export function createFileExclusive(file: string, data: string | Uint8Array): boolean {
  const bytes = asBytes(data);
  const tmp = tempName(file);
  try {
    ensureDir(path.dirname(file));
    const fd = fs.openSync(tmp, 'wx');
    try {
      writeAll(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } catch (e) {
    throw writeFailure(file, e, bytes.length);
  } finally {
    removeQuietly(tmp);
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Appends `data` whole or not at all: a failed append (a full disk) is cut back to the file's
 * length before it, so an append-only file holds whole lines only. Throws a `WriteError`.
 */
export function appendFileAll(file: string, data: string | Uint8Array): void {
  const bytes = asBytes(data);
  const fault = faultAt(file, bytes.length);
  try {
    fault?.before();
    const fd = fs.openSync(file, 'a');
    let before = -1;
    try {
      before = fs.fstatSync(fd).size;
      if (fault?.action === 'kill') {
        writeAll(fd, bytes.subarray(0, fault.killAfter));
        fault.die();
      }
      writeAll(fd, bytes);
    } catch (e) {
      if (before >= 0) {
        try {
          fs.ftruncateSync(fd, before);
        } catch {
          // cutting back frees space and does not need it; if even that fails, readers skip a partial last line
        }
      }
      throw e;
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw writeFailure(file, e, bytes.length);
  } finally {
    fault?.after();
  }
}

/**
 * A file of `bytes` bytes kept aside while space is there, so that one small final write (a run's
 * last status) succeeds on a disk that has since filled up: `commit` overwrites the reserved
 * bytes in place (no new space needed), cuts the file to the content's length and renames it
 * over the final name. The reserve lives beside its target, as
 * `<target>.tmp-<host>-<pid>-reserve` (a temporary name: removed with the other stale ones if
 * this process dies), and follows it when the folder is renamed.
 */
export class Reserve {
  private constructor(private readonly name: string) {}

  /** Reserves `bytes` bytes beside `target`. Throws a `WriteError` when even that does not fit. */
  static create(target: string, bytes: number): Reserve {
    const r = new Reserve(`${path.basename(target)}.tmp-${HOST_TAG}-${process.pid}-reserve`);
    writeFileAtomic(r.fileFor(target), Buffer.alloc(bytes, 0x20));
    return r;
  }

  fileFor(target: string): string {
    return path.join(path.dirname(target), this.name);
  }

  /**
   * Writes `data` to `target` through the reserve; a plain atomic write when the reserve is gone
   * or too small. Throws a `WriteError` naming `target`.
   */
  commit(target: string, data: string | Uint8Array): void {
    const bytes = asBytes(data);
    const file = this.fileFor(target);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      size = -1;
    }
    if (size < bytes.length) {
      writeFileAtomic(target, bytes);
      removeQuietly(file);
      return;
    }
    // The fault hook sees the reserve's own name here (the final status is its second write).
    const fault = faultAt(file, bytes.length);
    try {
      fault?.before();
      const fd = fs.openSync(file, 'r+');
      try {
        if (fault?.action === 'kill') {
          writeAll(fd, bytes.subarray(0, fault.killAfter));
          fault.die();
        }
        writeAll(fd, bytes);
        fs.ftruncateSync(fd, bytes.length);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(file, target);
    } catch (e) {
      throw writeFailure(target, e, bytes.length);
    } finally {
      fault?.after();
    }
  }
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}
