/**
 * The safetensors format (8-byte little-endian header length, JSON header, raw little-endian
 * data): used for checkpoints, ρ, the teacher cache and user-supplied features.
 */
import * as fs from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { badInput } from '../../common/util/errors';
import { openUserFile, readUserFile } from './userFile';

export type StDtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16';
const ITEM: Record<StDtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, F16: 2, BF16: 2 };

export interface StEntry {
  dtype: StDtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface StHeader {
  tensors: Record<string, StEntry>;
  metadata: Record<string, string>;
  /** Byte offset where the data section starts. */
  dataStart: number;
}

export interface StTensor {
  shape: number[];
  data: Float32Array;
  /** How `encodeSafetensors` stores it (default F32); I64 for counters such as BatchNorm's `num_batches_tracked`. */
  dtype?: 'F32' | 'F16' | 'BF16' | 'I64';
}

const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? `[${v
          .slice(0, 4)
          .map((x) => JSON.stringify(x))
          .join(', ')}${v.length > 4 ? ', …' : ''}]`
      : typeof v === 'string'
        ? JSON.stringify(v.slice(0, 40))
        : typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : typeof v === 'object'
            ? 'an object'
            : typeof v;
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const MAX_HEADER_BYTES = 100_000_000;

/** The header's length from the first 8 bytes, checked against the file's size. */
function headerLength(first: Uint8Array, fileSize: number, file: string): number {
  if (first.length < 8) throw badInput('not a safetensors file (shorter than 8 bytes)', { file });
  const len = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(MAX_HEADER_BYTES) || 8 + Number(len) > fileSize)
    throw badInput(`not a safetensors file (header length ${len} does not fit the file of ${fileSize} bytes)`, {
      file,
    });
  return Number(len);
}

/**
 * One tensor's header entry, checked as the format requires: a known dtype, a shape of
 * non-negative integers, and data offsets with 0 ≤ start ≤ end ≤ the data section's length and
 * end − start = the dtype's size × the shape's product. Offsets are relative to the data section,
 * so a negative start would read the header's own bytes as data.
 */
function checkEntry(k: string, v: unknown, dataLength: number, file: string): StEntry {
  const bad = (what: string): never => {
    throw badInput(`tensor '${k.slice(0, 80)}': ${what}`, { file });
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return bad(`expected {dtype, shape, data_offsets}, found ${describe(v)}`);
  const e = v as Record<string, unknown>;
  if (typeof e.dtype !== 'string' || !(e.dtype in ITEM))
    return bad(`unsupported dtype ${describe(e.dtype)}; expected F32, F64, F16, BF16, I32, I64 or U8`);
  const dtype = e.dtype as StDtype;
  if (!Array.isArray(e.shape) || !e.shape.every(isIndex))
    return bad(`shape must be a list of non-negative integers, found ${describe(e.shape)}`);
  const shape = e.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * ITEM[dtype])) return bad(`shape [${shape.join(', ')}] is too large`);
  const o = e.data_offsets;
  if (!Array.isArray(o) || o.length !== 2 || !o.every(isIndex))
    return bad(`data_offsets must be [start, end] with non-negative integers, found ${describe(o)}`);
  const [start, end] = o as [number, number];
  if (start > end || end > dataLength)
    return bad(
      `data_offsets [${start}, ${end}] must satisfy 0 ≤ start ≤ end ≤ ${dataLength} (the data section's length; the file may be truncated)`,
    );
  if (end - start !== count * ITEM[dtype])
    return bad(
      `data_offsets [${start}, ${end}] hold ${end - start} bytes, but ${dtype} × shape [${shape.join(', ')}] needs ${count * ITEM[dtype]}`,
    );
  return { dtype, shape, data_offsets: [start, end] };
}

function parseHeaderBytes(buf: Uint8Array, fileSize: number, file: string): StHeader {
  const len = headerLength(buf, fileSize, file);
  if (buf.length < 8 + len) throw badInput('truncated safetensors header', { file });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + len)));
  } catch {
    throw badInput('safetensors header is not valid UTF-8 JSON', { file });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw badInput(`safetensors header must be a JSON object, found ${describe(json)}`, { file });
  const dataLength = fileSize - 8 - len;
  const tensors: Record<string, StEntry> = {};
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(json)) {
    if (k === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw badInput(`__metadata__ must be an object of strings, found ${describe(v)}`, { file });
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        if (typeof mv !== 'string')
          throw badInput(`__metadata__.${mk.slice(0, 40)} must be a string, found ${describe(mv)}`, { file });
        metadata[mk] = mv;
      }
      continue;
    }
    tensors[k] = checkEntry(k, v, dataLength, file);
  }
  return { tensors, metadata, dataStart: 8 + len };
}

/** Reads the header only (no tensor data). */
export function readSafetensorsHeader(file: string): StHeader {
  const { fd, size } = openUserFile(file, { what: 'safetensors file' });
  try {
    const first = Buffer.alloc(Math.min(size, 8));
    fs.readSync(fd, first, 0, first.length, 0);
    const len = headerLength(first, size, file);
    const buf = Buffer.alloc(8 + len);
    fs.readSync(fd, buf, 0, buf.length, 0);
    return parseHeaderBytes(buf, size, file);
  } finally {
    fs.closeSync(fd);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(bytes: Uint8Array, dtype: StDtype, count: number): Float32Array {
  const raw = new Uint8Array(bytes.byteLength);
  raw.set(bytes);
  switch (dtype) {
    case 'F32':
      return new Float32Array(raw.buffer);
    case 'F64':
      return Float32Array.from(new Float64Array(raw.buffer));
    case 'I32':
      return Float32Array.from(new Int32Array(raw.buffer));
    case 'I64':
      return Float32Array.from(new BigInt64Array(raw.buffer), (v) => Number(v));
    case 'U8':
      return Float32Array.from(raw);
    case 'F16': {
      const h = new Uint16Array(raw.buffer);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(h[i]);
      return out;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32: shifting it back is exact.
      const h = new Uint16Array(raw.buffer);
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = h[i] << 16;
      return new Float32Array(bits.buffer);
    }
  }
}

/** float32 → IEEE half, rounded to nearest even (tests and fixtures write F16 files with it). */
function floatToHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = (mant | 0x800000) >> (1 - e);
    return sign | ((m + 0x1000 + ((m >> 13) & 1) - 1) >> 13);
  }
  const h = sign | (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && h & 1) ? h + 1 : h;
}

function encodeData(t: StTensor): Uint8Array {
  const d = t.data;
  switch (t.dtype ?? 'F32') {
    case 'F32':
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    case 'I64':
      return new Uint8Array(BigInt64Array.from(d, (v) => BigInt(Math.round(v))).buffer);
    case 'F16':
      return new Uint8Array(Uint16Array.from(d, floatToHalf).buffer);
    case 'BF16': {
      const bits = new Uint32Array(Float32Array.from(d).buffer);
      // Round to nearest even on the dropped 16 bits.
      return new Uint8Array(Uint16Array.from(bits, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16).buffer);
    }
  }
}

/** F64 values that float32 cannot hold would be read as ±Infinity: refused with their index. */
function checkFloat32Range(bytes: Uint8Array, name: string, file: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.byteLength / 8; i++) {
    const v = view.getFloat64(i * 8, true);
    if (Number.isFinite(v) && Math.abs(v) > 3.4028234663852886e38) {
      throw badInput(
        `tensor '${name.slice(0, 80)}': F64 value ${v} at index ${i} is beyond float32's range (±3.4e38), which features are read as`,
        { file },
      );
    }
  }
}

/** Reads all tensors of a safetensors file as float32. */
export function readSafetensors(file: string): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  const buf = readUserFile(file, { what: 'safetensors file', maxBytes: bufferConstants.MAX_LENGTH });
  return readSafetensorsBytes(buf, file);
}

/** Decodes all tensors of a safetensors file already read (`file` names it in errors). */
export function readSafetensorsBytes(
  buf: Uint8Array,
  file: string,
): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  const h = parseHeaderBytes(buf, buf.length, file);
  const tensors: Record<string, StTensor> = {};
  for (const [k, e] of Object.entries(h.tensors)) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    const data = decode(buf.subarray(h.dataStart + e.data_offsets[0], h.dataStart + e.data_offsets[1]), e.dtype, count);
    if (e.dtype === 'F64')
      checkFloat32Range(buf.subarray(h.dataStart + e.data_offsets[0], h.dataStart + e.data_offsets[1]), k, file);
    tensors[k] = { shape: e.shape, data };
  }
  return { tensors, metadata: h.metadata };
}

/** Encodes tensors (float32 unless a tensor says otherwise) and string metadata as a safetensors file. */
export function encodeSafetensors(tensors: Record<string, StTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header['__metadata__'] = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  const data = names.map((k) => encodeData(tensors[k]));
  names.forEach((k, i) => {
    const t = tensors[k];
    header[k] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + data[i].byteLength] };
    offset += data[i].byteLength;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...data]);
}
