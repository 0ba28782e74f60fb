/**
 * Reading a file a user named (an experiment file, an array, a model, a tokenizer, a table):
 * only regular files, with a size bound, so that a path to `/dev/zero` is refused instead of
 * growing the process without end, a FIFO is refused instead of blocking the open for ever, and
 * a folder says it is a folder. Errors are bad input naming the file (and field, when given).
 */
import * as fs from 'node:fs';
import { badInput, type SourceLocation } from '../../common/util/errors';

/** Experiment files are hand-written and a few kilobytes (the language server's bound too). */
export const MAX_EXPERIMENT_BYTES = 1024 * 1024;
/** JSON side files: tokenizer.json (tens of MB for big vocabularies), configs, run records. */
export const MAX_JSON_BYTES = 512 * 1024 * 1024;

export interface UserFileOptions {
  /** What the file is, for messages: "experiment file", ".npy file", ... */
  what: string;
  /** Refuse larger files (bytes). */
  maxBytes?: number;
  field?: string;
}

function where(file: string, field: string | undefined): SourceLocation {
  return field !== undefined ? { file, field } : { file };
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const sizeText = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} kB` : `${n} bytes`;

/**
 * Opens a user's file for reading: a regular file, or a bad-input error saying what it is.
 * O_NONBLOCK makes opening a FIFO return at once (a blocking open waits for a writer); it has no
 * effect on regular files. The caller closes the descriptor.
 */
export function openUserFile(file: string, opts: UserFileOptions): { fd: number; size: number } {
  const loc = where(file, opts.field);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw badInput(`cannot read ${opts.what}: no such file`, loc);
    if (code === 'EISDIR') throw badInput(`cannot read ${opts.what}: found a folder, expected a file`, loc);
    // The code, not the message: the message repeats the path, which may be very long.
    throw badInput(
      `cannot read ${opts.what}: ${code === 'ENAMETOOLONG' ? 'the path is too long' : code === 'EACCES' ? 'permission denied' : (code ?? (e as Error).message)}`,
      loc,
    );
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw badInput(`cannot read ${opts.what}: found ${kindOf(st)}, expected a regular file`, loc);
    if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
      throw badInput(
        `cannot read ${opts.what}: it is ${sizeText(st.size)}, and at most ${sizeText(opts.maxBytes)} is read`,
        loc,
      );
    }
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** The bytes of a user's regular file, at most `maxBytes` (see `openUserFile`). */
export function readUserFile(file: string, opts: UserFileOptions): Buffer {
  const { fd, size } = openUserFile(file, opts);
  try {
    // Never more than the size seen (plus nothing: a file that grows meanwhile is read as it was).
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  } catch (e) {
    if (e instanceof Error && 'code' in e && typeof (e as NodeJS.ErrnoException).code === 'string') {
      throw badInput(`cannot read ${opts.what}: ${e.message}`, where(file, opts.field));
    }
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence; -1 if none. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    // Overlong three- and four-byte forms, surrogates and code points past U+10FFFF.
    if (
      (c === 0xe0 && b[i + 1] < 0xa0) ||
      (c === 0xed && b[i + 1] > 0x9f) ||
      (c === 0xf0 && b[i + 1] < 0x90) ||
      (c === 0xf4 && b[i + 1] > 0x8f)
    )
      return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Decodes UTF-8 strictly: invalid bytes are refused with their offset and line, since silently
 * replaced characters (U+FFFD) would change what the file says.
 */
export function decodeUtf8(buf: Uint8Array, loc: SourceLocation): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf);
  } catch {
    const at = Math.max(0, firstInvalidUtf8(buf));
    let line = 1;
    for (let i = 0; i < at; i++) if (buf[i] === 10) line++;
    throw badInput(
      `not valid UTF-8: byte 0x${buf[at]?.toString(16).padStart(2, '0') ?? '??'} at offset ${at} (line ${line}); save the file as UTF-8`,
      { ...loc, line },
    );
  }
}

/** A user's text file: regular, bounded, strict UTF-8. */
export function readUserText(file: string, opts: UserFileOptions): string {
  return decodeUtf8(readUserFile(file, opts), where(file, opts.field));
}

/** A user's JSON file: regular, bounded, strict UTF-8, valid JSON. */
export function readUserJson(file: string, opts: UserFileOptions): unknown {
  const text = readUserText(file, opts);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badInput(`${opts.what} is not valid JSON: ${(e as Error).message}`, where(file, opts.field));
  }
}
