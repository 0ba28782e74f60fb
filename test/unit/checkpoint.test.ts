/** Starting from checkpoints: a tfjs Sequential's weights, and aft's own safetensors. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../core/node/experiment/schema';
import { encodeSafetensors } from '../../core/node/io/safetensors';
import { loadCheckpoint } from '../../sidecar/src/models/checkpoint';
import { createModel, modelWeights } from '../../sidecar/src/models/model';
import { initBackend, tf } from '../../sidecar/src/runtime/tf';
import { AftError } from '../../core/common/util/errors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-ckpt-'));
const spec = downstreamSchema.parse({ model: 'mlp', hidden: [16] });

/** Saves a tfjs Sequential the way `model.save('file://dir')` lays it out. */
async function saveTfjs(
  dir: string,
  layers: { units: number; inputDim?: number }[],
): Promise<{ file: string; weights: Float32Array[] }> {
  const model = tf.sequential({
    layers: layers.map((l) => tf.layers.dense({ units: l.units, ...(l.inputDim ? { inputDim: l.inputDim } : {}) })),
  });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(artifacts!.weightData as ArrayBuffer));
  fs.writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({
      modelTopology: artifacts!.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts!.weightSpecs }],
    }),
  );
  return { file: path.join(dir, 'model.json'), weights: model.getWeights().map((w) => w.dataSync() as Float32Array) };
}

describe('checkpoints', () => {
  before(async () => {
    await initBackend('cpu');
  });

  it('loads a tfjs Sequential checkpoint (model.json + weights.bin) in order', async () => {
    const { file, weights } = await saveTfjs(path.join(tmp, 'tfjs'), [{ units: 16, inputDim: 8 }, { units: 3 }]);
    const model = createModel(spec, [8], 3, 0);
    loadCheckpoint(model, file);
    const got = Object.values(await modelWeights(model)).map((t) => Array.from(t.data));
    assert.deepEqual(
      got,
      weights.map((w) => Array.from(w)),
    );
  });

  it('refuses a tfjs checkpoint of another architecture, naming the tensor', async () => {
    const { file } = await saveTfjs(path.join(tmp, 'tfjs-wide'), [{ units: 32, inputDim: 8 }, { units: 3 }]);
    const model = createModel(spec, [8], 3, 0);
    assert.throws(
      () => loadCheckpoint(model, file),
      (e: unknown) =>
        e instanceof AftError && /has shape \[8, 32\] but the model's fc0\.w needs \[8, 16\]/.test(e.message),
    );
  });

  it('round-trips its own safetensors checkpoints', async () => {
    const a = createModel(spec, [8], 3, 1);
    const f = path.join(tmp, 'a.safetensors');
    fs.writeFileSync(f, encodeSafetensors(await modelWeights(a)));
    const b = createModel(spec, [8], 3, 2);
    loadCheckpoint(b, f);
    assert.deepEqual(await modelWeights(b), await modelWeights(a));
  });
});
