/** Reading an ONNX model's input and output names from its protobuf, without its weights. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readOnnxSignature } from '../../core/node/io/onnxGraph';

const models = path.join(__dirname, '..', 'fixtures', 'lsp', 'models');
const expected = { inputs: ['pixel_values', 'attention_mask'], outputs: ['pooler_output', 'last_hidden_state'] };

/** Protobuf encoding, enough to build a model by hand. */
const varint = (n: number): Buffer => {
  const out: number[] = [];
  do {
    out.push((n % 128) | (n >= 128 ? 128 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(out);
};
const len = (field: number, payload: Buffer): Buffer =>
  Buffer.concat([varint(field * 8 + 2), varint(payload.length), payload]);
const str = (field: number, s: string): Buffer => len(field, Buffer.from(s));

describe('readOnnxSignature', () => {
  it('reads models written by the onnx package (fixtures from make-onnx.py)', () => {
    assert.deepEqual(readOnnxSignature(path.join(models, 'tiny.onnx')), expected);
  });

  it('leaves out weights that IR version 3 lists among the inputs', () => {
    assert.deepEqual(readOnnxSignature(path.join(models, 'tiny-ir3.onnx')), expected);
  });

  it('never opens external data files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-onnx-'));
    fs.copyFileSync(path.join(models, 'external.onnx'), path.join(dir, 'external.onnx'));
    assert.ok(!fs.existsSync(path.join(dir, 'external.onnx.data')));
    assert.deepEqual(readOnnxSignature(path.join(dir, 'external.onnx')), expected);
  });

  it('skips gigabytes of embedded weights without reading them', () => {
    // A 4 GB initializer, written as a sparse file: only its length prefix is on disk.
    const weights = 4 * 1024 ** 3;
    const tensorHead = Buffer.concat([str(8, 'W'), varint(9 * 8 + 2), varint(weights)]);
    const tail = Buffer.concat([len(11, str(1, 'ids')), len(12, str(1, 'features'))]);
    const graphLength =
      varint(5 * 8 + 2).length + varint(tensorHead.length + weights).length + tensorHead.length + weights + tail.length;
    const head = Buffer.concat([
      varint(1 * 8),
      varint(8),
      varint(7 * 8 + 2),
      varint(graphLength),
      varint(5 * 8 + 2),
      varint(tensorHead.length + weights),
      tensorHead,
    ]);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-onnx-')), 'huge.onnx');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, head, 0, head.length, 0);
    fs.writeSync(fd, tail, 0, tail.length, head.length + weights);
    fs.closeSync(fd);
    const t0 = performance.now();
    assert.deepEqual(readOnnxSignature(file), { inputs: ['ids'], outputs: ['features'] });
    assert.ok(performance.now() - t0 < 200, 'read in well under a second');
    fs.rmSync(file);
  });

  it('refuses files that are not ONNX models, saying so', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-onnx-'));
    fs.writeFileSync(path.join(dir, 'a.onnx'), 'hello, I am text\n');
    assert.throws(() => readOnnxSignature(path.join(dir, 'a.onnx')), /not an ONNX model/);
    fs.writeFileSync(path.join(dir, 'b.onnx'), Buffer.concat([varint(7 * 8 + 2), varint(1000), Buffer.from([1, 2])]));
    assert.throws(() => readOnnxSignature(path.join(dir, 'b.onnx')), /not an ONNX model/);
    assert.throws(() => readOnnxSignature(path.join(dir, 'missing.onnx')), /cannot read ONNX model/);
  });
});
