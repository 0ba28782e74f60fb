/** .npy and .safetensors: round trips and clear refusals of bad files. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeNpy, readNpy, readNpyHeader } from '../../core/node/io/npy';
import { encodeSafetensors, readSafetensors, readSafetensorsHeader } from '../../core/node/io/safetensors';
import { AftError } from '../../core/common/util/errors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-io-'));

function npyWithHeader(header: string, data: Buffer): Buffer {
  let h = header;
  h += ' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(h.length, 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), data]);
}

function expectBadInput(f: () => unknown, pattern: RegExp): void {
  assert.throws(
    f,
    (e: unknown) =>
      e instanceof AftError && e.code === 'bad_input' && pattern.test(e.message) && e.location?.file !== undefined,
  );
}

describe('npy', () => {
  const cases: [string, Float32Array | Float64Array | Int32Array | Uint8Array][] = [
    ['float32', Float32Array.from([1.5, -2, 3, 4, 5, 6])],
    ['float64', Float64Array.from([1.25, 2, 3, 4, 5, 6])],
    ['int32', Int32Array.from([1, -2, 3, 4, 5, 6])],
    ['uint8', Uint8Array.from([1, 2, 3, 4, 5, 255])],
  ];
  for (const [dtype, data] of cases) {
    it(`round-trips ${dtype}`, () => {
      const f = path.join(tmp, `${dtype}.npy`);
      fs.writeFileSync(f, encodeNpy(data, [2, 3]));
      const a = readNpy(f);
      assert.equal(a.dtype, dtype);
      assert.deepEqual(a.shape, [2, 3]);
      assert.deepEqual(Array.from(a.data), Array.from(data));
      assert.deepEqual(readNpyHeader(f).shape, [2, 3]);
    });
  }

  it('reads int64', () => {
    const f = path.join(tmp, 'i8.npy');
    fs.writeFileSync(
      f,
      npyWithHeader(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
        Buffer.from(BigInt64Array.from([1n, -5n, 7n]).buffer),
      ),
    );
    assert.deepEqual(Array.from(readNpy(f).data), [1, -5, 7]);
  });

  const bad: [string, Buffer, RegExp][] = [
    [
      'fortran',
      npyWithHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", Buffer.alloc(16)),
      /Fortran/,
    ],
    [
      'object',
      npyWithHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", Buffer.alloc(16)),
      /object arrays/,
    ],
    [
      'big-endian',
      npyWithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", Buffer.alloc(8)),
      /unsupported dtype/,
    ],
    [
      'truncated',
      npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", Buffer.alloc(8)),
      /truncated/,
    ],
    ['not npy', Buffer.from('hello world, not an array'), /not a \.npy/],
  ];
  for (const [name, buf, pattern] of bad) {
    it(`refuses ${name}`, () => {
      const f = path.join(tmp, `${name}.npy`);
      fs.writeFileSync(f, buf);
      expectBadInput(() => readNpy(f), pattern);
    });
  }
});

describe('safetensors', () => {
  it('round-trips tensors and metadata', () => {
    const f = path.join(tmp, 'a.safetensors');
    fs.writeFileSync(
      f,
      encodeSafetensors(
        {
          w: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
          b: { shape: [3], data: Float32Array.from([5, 6, 7]) },
        },
        { k: 'v' },
      ),
    );
    const r = readSafetensors(f);
    assert.deepEqual(Array.from(r.tensors.w.data), [1, 2, 3, 4]);
    assert.deepEqual(r.tensors.b.shape, [3]);
    assert.equal(r.metadata.k, 'v');
    assert.deepEqual(Object.keys(readSafetensorsHeader(f).tensors).sort(), ['b', 'w']);
  });

  it('writes and reads F16, BF16 and I64 tensors (read back as float32)', () => {
    const f = path.join(tmp, 'd.safetensors');
    const values = Float32Array.from([1, -2.5, 0.333, 65504, 1e-5, 0]);
    fs.writeFileSync(
      f,
      encodeSafetensors({
        h: { shape: [6], data: values, dtype: 'F16' },
        b: { shape: [6], data: values, dtype: 'BF16' },
        n: { shape: [], data: Float32Array.from([7]), dtype: 'I64' },
      }),
    );
    const header = readSafetensorsHeader(f).tensors;
    assert.deepEqual([header.h.dtype, header.b.dtype, header.n.dtype], ['F16', 'BF16', 'I64']);
    const r = readSafetensors(f).tensors;
    // Half keeps 11 significant bits, bfloat16 8: each value within its precision.
    values.forEach((v, i) => {
      assert.ok(Math.abs(r.h.data[i] - v) <= Math.abs(v) * 2 ** -11 + 6e-8, `F16 ${v} → ${r.h.data[i]}`);
      assert.ok(Math.abs(r.b.data[i] - v) <= Math.abs(v) * 2 ** -8, `BF16 ${v} → ${r.b.data[i]}`);
    });
    assert.deepEqual([r.h.data[0], r.h.data[1], r.b.data[1]], [1, -2.5, -2.5]);
    assert.deepEqual(Array.from(r.n.data), [7]);
    assert.deepEqual(r.n.shape, []);
  });

  it('refuses a truncated file', () => {
    const f = path.join(tmp, 't.safetensors');
    const full = encodeSafetensors({ w: { shape: [4], data: Float32Array.from([1, 2, 3, 4]) } });
    fs.writeFileSync(f, full.subarray(0, full.length - 4));
    expectBadInput(() => readSafetensors(f), /truncated|does not match/);
  });

  it('refuses junk', () => {
    const f = path.join(tmp, 'j.safetensors');
    fs.writeFileSync(f, Buffer.from('\xff\xff\xff\xff\xff\xff\xff\x7fjunk', 'latin1'));
    expectBadInput(() => readSafetensors(f), /not a safetensors/);
  });
});
