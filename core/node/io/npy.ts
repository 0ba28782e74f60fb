/**
 * NumPy `.npy` files (format versions 1-3): header parsing with clear refusals, and a writer
 * used by tests and exports. Data comes back as Float32Array (floats) or Float64Array/Int32Array.
 */
import * as fs from 'node:fs';
import { badInput } from '../../common/util/errors';

export type NpyDtype = 'float32' | 'float64' | 'uint8' | 'int32' | 'int64';

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the data. */
  dataOffset: number;
}

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Values as float64 (exact for all supported dtypes within ±2^53). */
  data: Float64Array;
}

const DESCR: Record<string, NpyDtype> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '|u1': 'uint8',
  '<u1': 'uint8',
  '<i4': 'int32',
  '<i8': 'int64',
};
const ITEM: Record<NpyDtype, number> = { float32: 4, float64: 8, uint8: 1, int32: 4, int64: 8 };

/** Parses the header of an .npy file from its first bytes. */
export function parseNpyHeader(buf: Uint8Array, file: string): NpyHeader {
  const magic = Buffer.from(buf.subarray(0, 6)).toString('latin1');
  if (buf.length < 10 || magic !== '\x93NUMPY') throw badInput('not a .npy file (bad magic bytes)', { file });
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw badInput('truncated .npy header', { file });
    headerLen = view.getUint32(8, true);
    start = 12;
  } else throw badInput(`unsupported .npy format version ${major}`, { file });
  if (buf.length < start + headerLen) throw badInput('truncated .npy header', { file });
  const header = Buffer.from(buf.subarray(start, start + headerLen)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw badInput(`malformed .npy header: ${header.trim()}`, { file });
  }
  if (descr.includes('O')) throw badInput('object arrays are not supported; save a numeric array (e.g. np.asarray(x, dtype=np.float32))', { file });
  const dtype = DESCR[descr];
  if (!dtype) {
    throw badInput(`unsupported dtype '${descr}'; expected one of float32, float64, uint8, int32, int64 (little-endian)`, { file });
  }
  if (fortran === 'True') throw badInput('Fortran-ordered arrays are not supported; save with np.ascontiguousarray(x)', { file });
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw badInput(`bad shape (${shapeText}) in .npy header`, { file });
  return { dtype, shape, dataOffset: start + headerLen };
}

export function readNpy(file: string): NpyArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw badInput(`cannot read .npy file: ${(e as Error).message}`, { file });
  }
  const h = parseNpyHeader(buf, file);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const bytes = count * ITEM[h.dtype];
  if (buf.length - h.dataOffset < bytes) {
    throw badInput(`truncated .npy data: expected ${bytes} bytes for shape (${h.shape.join(', ')}), found ${buf.length - h.dataOffset}`, { file });
  }
  // Copy into an aligned buffer so typed-array views are valid.
  const raw = new Uint8Array(bytes);
  raw.set(buf.subarray(h.dataOffset, h.dataOffset + bytes));
  const data = new Float64Array(count);
  switch (h.dtype) {
    case 'float32':
      data.set(new Float32Array(raw.buffer));
      break;
    case 'float64':
      data.set(new Float64Array(raw.buffer));
      break;
    case 'uint8':
      data.set(raw);
      break;
    case 'int32':
      data.set(new Int32Array(raw.buffer));
      break;
    case 'int64': {
      const v = new BigInt64Array(raw.buffer);
      for (let i = 0; i < count; i++) data[i] = Number(v[i]);
      break;
    }
  }
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Reads only the header (for editors: shapes without loading data). */
export function readNpyHeader(file: string): NpyHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return parseNpyHeader(buf.subarray(0, n), file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Encodes an .npy (version 1) file. */
export function encodeNpy(data: Float32Array | Float64Array | Int32Array | Uint8Array, shape: number[]): Buffer {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Float64Array ? '<f8' : data instanceof Int32Array ? '<i4' : '|u1';
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
