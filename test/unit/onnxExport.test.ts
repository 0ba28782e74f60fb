/**
 * The ONNX exporter: every downstream architecture exported from random weights gives the same
 * logits and features in onnxruntime as in tfjs (max |Δ| ≤ 1e-4), at opset 17 / IR 8, and the
 * compiled onnx.proto descriptor is fresh.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { ONNX_PROTO_JSON, onnxProtoJsonText } from '../../scripts/gen-onnx-proto';
import { downstreamSchema } from '../../core/node/experiment/schema';
import { exportDownstream, parameterCount } from '../../sidecar/src/export/downstream';
import { decodeModel } from '../../sidecar/src/export/proto';
import { createModel, modelWeights } from '../../sidecar/src/models/model';
import { readTidy } from '../../sidecar/src/train/evaluate';
import { OnnxSession } from '../../sidecar/src/runtime/onnx';
import { initBackend, tf } from '../../sidecar/src/runtime/tf';
import { Rng } from '../../sidecar/src/util/rng';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-export-'));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const cases: { name: string; spec: Record<string, unknown>; inputShape: number[]; classes: number }[] = [
  { name: 'mlp on vectors', spec: { model: 'mlp', hidden: [16, 8] }, inputShape: [12], classes: 3 },
  { name: 'mlp on images (flattened NHWC)', spec: { model: 'mlp', hidden: [32] }, inputShape: [6, 5, 2], classes: 4 },
  {
    name: 'cnn, one block, odd sizes',
    spec: { model: 'cnn', channels: [3], hidden: [8] },
    inputShape: [7, 9, 1],
    classes: 2,
  },
  {
    name: 'cnn, two blocks, RGB',
    spec: { model: 'cnn', channels: [4, 6], hidden: [10, 5] },
    inputShape: [12, 16, 3],
    classes: 5,
  },
];

describe('ONNX export of downstream models', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  for (const c of cases) {
    it(`${c.name}: onnxruntime matches tfjs`, async () => {
      const spec = downstreamSchema.parse(c.spec);
      const model = createModel(spec, c.inputShape, c.classes, 7);
      // Non-zero biases so that a bias dropped or misplaced shows.
      const rng = new Rng(3);
      for (const [k, v] of model.params)
        if (k.endsWith('.b'))
          v.assign(
            tf.tensor(
              Float32Array.from({ length: v.size }, () => rng.normal() * 0.1),
              v.shape,
            ),
          );
      const weights = await modelWeights(model);
      const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.onnx`);
      fs.writeFileSync(
        file,
        exportDownstream(weights, {
          kind: spec.model as 'mlp' | 'cnn',
          inputShape: c.inputShape,
          channels: spec.channels,
          hidden: spec.hidden,
          numClasses: c.classes,
        }),
      );
      const n = 9;
      const x = Float32Array.from({ length: n * c.inputShape.reduce((a, b) => a * b, 1) }, () => rng.normal());
      const ref = {
        logits: await readTidy(() => model.forward(tf.tensor(x, [n, ...c.inputShape])).logits),
        phi: await readTidy(() => model.forward(tf.tensor(x, [n, ...c.inputShape])).phi),
      };
      const session = await OnnxSession.open(file, { device: 'cpu' });
      const got = await session.run({ input: { type: 'float32', data: x, dims: [n, ...c.inputShape] } });
      await session.release();
      assert.deepEqual(got.logits.dims, [n, c.classes]);
      assert.ok(maxAbsDiff(got.logits.data as Float32Array, ref.logits) <= 1e-4);
      assert.ok(maxAbsDiff(got.features.data as Float32Array, ref.phi) <= 1e-4);
      assert.equal(
        parameterCount(weights),
        [...model.params.values()].reduce((a, v) => a + v.size, 0),
      );
      model.dispose();
    });
  }

  it('writes opset 17 at IR version 8, with the weights as initialisers', async () => {
    const spec = downstreamSchema.parse({ model: 'mlp', hidden: [4] });
    const model = createModel(spec, [3], 2, 0);
    const m = decodeModel(
      exportDownstream(await modelWeights(model), {
        kind: 'mlp',
        inputShape: [3],
        channels: [],
        hidden: [4],
        numClasses: 2,
      }),
    ) as {
      ir_version: number;
      opset_import: { domain?: string; version: number }[];
      graph: { initializer: { name: string }[]; input: { name: string }[]; output: { name: string }[] };
    };
    model.dispose();
    assert.equal(m.ir_version, 8);
    assert.deepEqual(
      m.opset_import.map((o) => o.version),
      [17],
    );
    assert.deepEqual(m.graph.initializer.map((t) => t.name).sort(), ['fc0.b', 'fc0.w', 'head.b', 'head.w']);
    assert.deepEqual(
      m.graph.input.map((t) => t.name),
      ['input'],
    );
    assert.deepEqual(
      m.graph.output.map((t) => t.name),
      ['logits', 'features'],
    );
  });

  it('refuses weights that do not fit the architecture, naming the tensor', async () => {
    const spec = downstreamSchema.parse({ model: 'mlp', hidden: [4] });
    const model = createModel(spec, [3], 2, 0);
    const w = await modelWeights(model);
    model.dispose();
    assert.throws(
      () => exportDownstream(w, { kind: 'mlp', inputShape: [5], channels: [], hidden: [4], numClasses: 2 }),
      /tensor 'fc0\.w' has shape \[3, 4\], expected \[5, 4\]/,
    );
    const partial = { ...w };
    delete partial['head.b'];
    assert.throws(
      () => exportDownstream(partial, { kind: 'mlp', inputShape: [3], channels: [], hidden: [4], numClasses: 2 }),
      /no tensor 'head\.b'/,
    );
  });

  it('the compiled onnx.proto descriptor is up to date (npm run gen:onnx-proto)', () => {
    assert.equal(fs.readFileSync(ONNX_PROTO_JSON, 'utf8'), onnxProtoJsonText());
  });
});
