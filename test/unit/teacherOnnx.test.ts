/**
 * The built-in teacher goes through the ONNX path: exported once next to its cached weights,
 * its features extracted by onnxruntime into the feature cache, equal (within float tolerance)
 * to the tfjs teacher's φ, so the demo's numbers keep their meaning. A teacher with random
 * weights stands in for the trained one (training it takes minutes).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadMnist } from '../../sidecar/src/data/mnist';
import { downstreamSchema } from '../../core/node/experiment/schema';
import { buildSources } from '../../sidecar/src/features/sources';
import { loadTeacher, teacherCacheFile, TEACHER_VERSION } from '../../sidecar/src/features/teacher';
import { encodeSafetensors } from '../../core/node/io/safetensors';
import { createModel, modelWeights } from '../../sidecar/src/models/model';
import { readTidy } from '../../sidecar/src/train/evaluate';
import { initBackend, tf } from '../../sidecar/src/runtime/tf';

describe('built-in teacher on the ONNX path', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
    process.env.AFT_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-teacher-'));
    const file = teacherCacheFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const model = createModel(downstreamSchema.parse({ model: 'mlp', hidden: [512, 256] }), [28, 28, 1], 10, 3);
    fs.writeFileSync(file, encodeSafetensors(await modelWeights(model), { version: TEACHER_VERSION }));
    fs.writeFileSync(`${file}.json`, JSON.stringify({ version: TEACHER_VERSION, validationAccuracy: 0.5 }));
    model.dispose();
  });

  it('gives the tfjs teacher’s features through onnxruntime and the cache', async () => {
    const ds = loadMnist(120, 80, 0);
    const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-teacher-cache-'));
    const logs: string[] = [];
    const hooks = { log: (m: string) => logs.push(m), onBuildProgress: () => {}, cacheRoot };
    const built = await buildSources([{ name: 'teacher', builtin: 'mnist-teacher' }], ds, '/', 0, hooks);
    assert.equal(built.blocks[0].kind, 'builtin');
    assert.equal(built.features.width, 256);
    const onnxFiles = fs.readdirSync(path.dirname(teacherCacheFile())).filter((f) => f.endsWith('.onnx'));
    assert.deepEqual(onnxFiles, [`${TEACHER_VERSION}.export-v1.onnx`]);
    const teacher = loadTeacher(teacherCacheFile());
    const ref = await readTidy(() => teacher.forward(tf.tensor(ds.test.x, [ds.test.n, 28, 28, 1])).phi);
    teacher.dispose();
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i] - built.features.test[i]));
    assert.ok(diff < 1e-4, `max |Δ| ${diff}`);
    const again = await buildSources([{ name: 'teacher', builtin: 'mnist-teacher' }], ds, '/', 0, hooks);
    assert.ok(logs.some((l) => /teacher: features from the cache/.test(l)));
    assert.deepEqual(again.features.test, built.features.test);
  });

  it('refuses datasets that are not 28x28 digits', async () => {
    const ds = {
      name: 'x',
      inputShape: [5],
      numClasses: 2,
      train: { n: 1, x: new Float32Array(5), y: new Int32Array(1) },
      test: { n: 1, x: new Float32Array(5), y: new Int32Array(1) },
    };
    await assert.rejects(
      buildSources([{ name: 't', builtin: 'mnist-teacher' }], ds, '/', 0, {
        log: () => {},
        onBuildProgress: () => {},
        cacheRoot: os.tmpdir(),
      }),
      /mnist-teacher needs 28x28 inputs/,
    );
  });
});
