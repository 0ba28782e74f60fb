/**
 * NumPy `.npy` files (format versions 1-3): header parsing with clear refusals, and a writer
 * used by tests and exports. Data comes back as Float32Array (floats) or Float64Array/Int32Array.
 */
import * as fs from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { badInput } from '../../common/util/errors';
import { openUserFile, readUserFile } from './userFile';

/** The most one array file may hold: what one Buffer can (a regular file: never a device). */
export const MAX_ARRAY_BYTES = bufferConstants.MAX_LENGTH;

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
  if (descr.includes('O'))
    throw badInput('object arrays are not supported; save a numeric array (e.g. np.asarray(x, dtype=np.float32))', {
      file,
    });
  const dtype = DESCR[descr];
  if (!dtype) {
    throw badInput(
      `unsupported dtype '${descr}'; expected one of float32, float64, uint8, int32, int64 (little-endian)`,
      { file },
    );
  }
  if (fortran === 'True')
    throw badInput('Fortran-ordered arrays are not supported; save with np.ascontiguousarray(x)', { file });
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  // Decimal integers only, as NumPy writes them: `0x10` or `1e3` are not shapes NumPy makes.
  if (dims.some((d) => !/^\d{1,15}L?$/.test(d)))
    throw badInput(`bad shape (${shapeText}) in .npy header; expected non-negative decimal integers`, { file });
  const shape = dims.map((d) => Number(d.replace(/L$/, '')));
  if (!Number.isSafeInteger(shape.reduce((a, b) => a * b, ITEM[dtype])))
    throw badInput(`shape (${shapeText}) in .npy header is too large`, { file });
  return { dtype, shape, dataOffset: start + headerLen };
}

/** Bytes of an array's data, from its header. */
export function npyDataBytes(h: Pick<NpyHeader, 'dtype' | 'shape'>): number {
  return h.shape.reduce((a, b) => a * b, 1) * ITEM[h.dtype];
}

function checkDataFits(h: NpyHeader, fileSize: number, file: string): void {
  const bytes = npyDataBytes(h);
  if (fileSize - h.dataOffset < bytes) {
    throw badInput(
      `truncated .npy data: expected ${bytes} bytes for shape (${h.shape.join(', ')}), found ${Math.max(0, fileSize - h.dataOffset)}`,
      { file },
    );
  }
}

export function readNpy(file: string): NpyArray {
  const buf = readUserFile(file, { what: '.npy file', maxBytes: MAX_ARRAY_BYTES });
  const h = parseNpyHeader(buf, file);
  checkDataFits(h, buf.length, file);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const bytes = npyDataBytes(h);
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

/**
 * Reads only the header (for editors and `aft validate`: shapes without loading data), and
 * checks that the file holds as many bytes of data as the header says.
 */
export function readNpyHeader(file: string): NpyHeader {
  const { fd, size } = openUserFile(file, { what: '.npy file' });
  try {
    const buf = Buffer.alloc(Math.min(size, 65536 + 12));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const h = parseNpyHeader(buf.subarray(0, n), file);
    checkDataFits(h, size, file);
    return h;
  } finally {
    fs.closeSync(fd);
  }
}

/** Encodes an .npy (version 1) file. */
export function encodeNpy(
  data: Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array,
  shape: number[],
): Buffer {
  const descr =
    data instanceof Float32Array
      ? '<f4'
      : data instanceof Float64Array
        ? '<f8'
        : data instanceof Int32Array
          ? '<i4'
          : data instanceof BigInt64Array
            ? '<i8'
            : '|u1';
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    pre,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}
