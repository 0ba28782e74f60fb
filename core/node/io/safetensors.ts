/**
 * The safetensors format (8-byte little-endian header length, JSON header, raw little-endian
 * data): used for checkpoints, ρ, the teacher cache and user-supplied features.
 */
import * as fs from 'node:fs';
import { badInput } from '../../common/util/errors';

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

function parseHeaderBytes(buf: Uint8Array, fileSize: number, file: string): StHeader {
  if (buf.length < 8) throw badInput('not a safetensors file (shorter than 8 bytes)', { file });
  const len = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
  if (len > 100_000_000 || 8 + len > fileSize) throw badInput(`not a safetensors file (header length ${len} does not fit the file)`, { file });
  if (buf.length < 8 + len) throw badInput('truncated safetensors header', { file });
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(Buffer.from(buf.subarray(8, 8 + len)).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw badInput('safetensors header is not valid JSON', { file });
  }
  const tensors: Record<string, StEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(json)) {
    if (k === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as StEntry;
    if (!(e.dtype in ITEM)) throw badInput(`tensor '${k}' has unsupported dtype ${String(e.dtype)}; expected F32, F64, F16, BF16, I32, I64 or U8`, { file });
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (e.data_offsets[1] - e.data_offsets[0] !== count * ITEM[e.dtype] || 8 + len + e.data_offsets[1] > fileSize) {
      throw badInput(`tensor '${k}' data does not match its shape (${e.shape.join('x')}) or the file is truncated`, { file });
    }
    tensors[k] = e;
  }
  return { tensors, metadata, dataStart: 8 + len };
}

/** Reads the header only (no tensor data). */
export function readSafetensorsHeader(file: string): StHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const first = Buffer.alloc(Math.min(size, 8));
    fs.readSync(fd, first, 0, first.length, 0);
    if (first.length < 8) throw badInput('not a safetensors file (shorter than 8 bytes)', { file });
    const len = Number(first.readBigUInt64LE(0));
    if (len > 100_000_000 || 8 + len > size) throw badInput(`not a safetensors file (header length ${len} does not fit the file)`, { file });
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

/** Reads all tensors of a safetensors file as float32. */
export function readSafetensors(file: string): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw badInput(`cannot read safetensors file: ${(e as Error).message}`, { file });
  }
  return readSafetensorsBytes(buf, file);
}

/** Decodes all tensors of a safetensors file already read (`file` names it in errors). */
export function readSafetensorsBytes(buf: Uint8Array, file: string): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  const h = parseHeaderBytes(buf, buf.length, file);
  const tensors: Record<string, StTensor> = {};
  for (const [k, e] of Object.entries(h.tensors)) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    tensors[k] = { shape: e.shape, data: decode(buf.subarray(h.dataStart + e.data_offsets[0], h.dataStart + e.data_offsets[1]), e.dtype, count) };
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
