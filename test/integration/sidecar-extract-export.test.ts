/**
 * `aft/extract` and `aft/export` through the extension's sidecar client against the real built
 * sidecar (dist/sidecar/server.js): extraction of an HF image experiment writes cache entries with
 * progress events (items/s) and a second call reuses them (and so does a run); an extraction is
 * cancelled by its id; a completed run exports to an ONNX file verified against tfjs, with the
 * cost table; bad requests fail as typed bad input naming the field.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SidecarClient } from '../../extension/src/sidecar/client';
import type { LogEvent, ProgressEvent, RunEvent, StatusEvent } from '../../core/common/protocol/events';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';
import { rejectsWith, waitFor } from '../helpers/sidecarRpc';

const root = path.resolve(import.meta.dirname, '..', '..');
const serverScript = path.join(root, 'dist', 'sidecar', 'server.js');
const valid = path.join(root, 'test', 'fixtures', 'experiments', 'valid');
const hfImages = path.join(valid, 'hf-images.aft.yaml');
const ablation = path.join(valid, 'npy-ablation.aft.yaml');

const made: string[] = [];
const tmpdir = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-xe-'));
  made.push(d);
  return d;
};

/** 6,000 examples of 8 numbers and a random MLP as the "pre-trained" model, one example per call (slow enough to cancel). */
function slowArrayExperiment(): string {
  const ws = tmpdir();
  writeArrayWorkspace(ws, { train: 5800, test: 200 });
  const file = path.join(ws, 'slow.aft.yaml');
  fs.writeFileSync(
    file,
    `name: slow
dataset: { source: npy, train: { inputs: x_train.npy, labels: y_train.npy }, test: { inputs: x_test.npy, labels: y_test.npy } }
pretrained:
  - { name: mlp, onnx: { model: model.onnx, output: features, batch: 1 } }
methods: [stl]
`,
  );
  return file;
}

describe('aft/extract and aft/export against a real sidecar', () => {
  let c: SidecarClient;
  const events: RunEvent[] = [];

  before(async () => {
    assert.ok(fs.existsSync(serverScript), 'dist/sidecar/server.js is built (npm run build)');
    c = new SidecarClient({
      serverScript,
      env: { AFT_CACHE_DIR: path.join(tmpdir(), 'cache') },
      init: { maxConcurrentRuns: 1 },
    });
    c.onRunEvent((e) => events.push(e));
    await c.start();
  });

  after(async () => {
    await c.stop(2000);
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });

  it('extracts an HF image experiment into the cache with progress events; a second call and a run reuse the entries; export is verified and costed', async () => {
    const ws = tmpdir();
    const first = await c.extract({ file: hfImages, workspaceDir: ws, extractionId: 'x-first' });
    assert.equal(first.extractionId, 'x-first');
    assert.equal(first.cacheRoot, path.join(ws, '.aft', 'cache', 'features'));
    assert.deepEqual(
      first.entries.map((e) => [e.source, e.cached, e.complete, e.extracted, e.chunks]),
      [
        ['vit', false, true, 24, { present: 1, total: 1 }],
        ['vit-pooled', false, true, 24, { present: 1, total: 1 }],
      ],
    );
    for (const e of first.entries) {
      assert.ok(fs.existsSync(path.join(e.dir, 'meta.json')), `${e.dir} is a complete cache entry`);
      assert.ok(e.itemsPerSecond !== null && e.itemsPerSecond > 0 && e.provider);
    }
    const progress = events.filter((e): e is ProgressEvent => e.type === 'progress' && e.runId === 'x-first');
    assert.ok(
      progress.some((e) => (e.itemsPerSecond ?? 0) > 0 && e.steps === 24),
      'progress events with items/s carry the extraction id',
    );
    assert.equal(progress.at(-1)?.fraction, 1);
    assert.ok(
      events.some(
        (e): e is LogEvent =>
          e.type === 'log' && e.runId === 'x-first' && /vit: extracting 24 of 24 examples/.test(e.message),
      ),
    );

    const again = await c.extract({ file: hfImages, workspaceDir: ws });
    assert.match(again.extractionId, /^extract-/);
    assert.deepEqual(
      again.entries.map((e) => [e.source, e.cached, e.extracted, e.dir]),
      first.entries.map((e) => [e.source, true, 0, e.dir]),
    );

    // A run of the same file in the same workspace uses the extracted features.
    const started = await c.run({ file: hfImages, workspaceDir: ws, methods: ['aft'], steps: 6 });
    const done = await waitFor(
      c,
      (e): e is StatusEvent => e.type === 'status' && e.runId === started.runId && e.state !== 'running',
    );
    assert.equal(done.state, 'completed', done.message);
    assert.ok(
      events.some(
        (e) => e.type === 'log' && e.runId === started.runId && /vit: features from the cache/.test(e.message),
      ),
    );

    const out = path.join(tmpdir(), 'sub', 'aft-seed-0.onnx');
    const r = await c.export({ runDir: started.runDir, method: 'aft', seed: 0, out });
    assert.equal(r.file, out);
    assert.ok(fs.statSync(out).size === r.bytes && r.bytes > 0);
    assert.ok(r.verification.maxAbsDiff <= 1e-4, `max |Δ| ${r.verification.maxAbsDiff}`);
    assert.equal(r.verification.examples, 6);
    assert.deepEqual([r.method, r.seed, r.model], ['aft', 0, 'cnn']);
    assert.ok(r.parameters > 0);
    assert.deepEqual(
      r.cost.models.map((m) => [m.kind, m.parameters !== null && m.parameters > 0, m.msPerExample > 0]),
      [
        ['downstream', true, true],
        ['pretrained', true, true],
        ['pretrained', true, true],
      ],
    );
    assert.equal(r.cost.models[0].parameters, r.parameters);

    await rejectsWith(
      c.export({ runDir: started.runDir, method: 'kd', seed: 0, out }),
      'bad_input',
      /no checkpoint for kd seed 0; this run has: aft-seed-0/,
      'method',
    );
    await rejectsWith(
      c.export({ runDir: started.runDir, method: 'aft', seed: 3, out }),
      'bad_input',
      /no checkpoint for aft seed 3/,
      'seed',
    );
    await rejectsWith(
      c.export({ runDir: started.runDir, method: '../checkpoints/aft', seed: 0, out }),
      'bad_input',
      /no checkpoint/,
      'method',
    );
    await rejectsWith(
      c.export({ runDir: started.runDir, method: 'aft', seed: -1, out }),
      'bad_input',
      /non-negative integer seed/,
      'seed',
    );
    await rejectsWith(
      c.export({ runDir: started.runDir, method: 'aft', seed: 0, out: 'relative.onnx' }),
      'bad_input',
      /absolute path/,
      'out',
    );
    await rejectsWith(c.export({ runDir: ws, method: 'aft', seed: 0, out }), 'bad_input', /no run/, 'runDir');
  });

  it('exports a completed npy run (precomputed features: the cost table has only the small model)', async () => {
    const ws = tmpdir();
    const started = await c.run({ file: ablation, workspaceDir: ws, methods: ['aft'], steps: 6 });
    const done = await waitFor(
      c,
      (e): e is StatusEvent => e.type === 'status' && e.runId === started.runId && e.state !== 'running',
    );
    assert.equal(done.state, 'completed', done.message);
    const out = path.join(started.runDir, 'aft-seed-0.onnx');
    const r = await c.export({ runDir: started.runDir, method: 'aft', seed: 0, out });
    assert.ok(fs.existsSync(out));
    assert.ok(r.verification.maxAbsDiff <= 1e-4);
    assert.deepEqual(
      r.cost.models.map((m) => m.kind),
      ['downstream'],
    );
  });

  it('cancels an extraction by its id (typed cancelled), keeps no complete entry, and refuses bad requests as typed bad input', async () => {
    const file = slowArrayExperiment();
    const ws = path.dirname(file);
    const id = 'x-cancel';
    const first = waitFor(c, (e): e is ProgressEvent => e.type === 'progress' && e.runId === id);
    const extraction = c.extract({ file, workspaceDir: ws, extractionId: id });
    await first;
    // The same file cannot be extracted twice at once.
    await rejectsWith(c.extract({ file, workspaceDir: ws }), 'busy', /already being extracted \(x-cancel\)/);
    assert.equal(await c.cancel(id), true);
    await rejectsWith(extraction, 'cancelled', /cancelled/);
    const cache = path.join(ws, '.aft', 'cache', 'features');
    const entries = fs.readdirSync(cache).filter((d) => d !== 'model-hashes');
    assert.equal(entries.length, 1);
    assert.equal(
      fs.existsSync(path.join(cache, entries[0], 'meta.json')),
      false,
      'a cancelled extraction leaves no complete entry',
    );
    assert.equal(await c.cancel(id), false, 'nothing left to cancel');

    await rejectsWith(
      c.extract({ file, workspaceDir: ws, shard: { index: 2, count: 2 } }),
      'bad_input',
      /0 <= index < count/,
      'shard',
    );
    await rejectsWith(c.extract({ file: 'slow.aft.yaml', workspaceDir: ws }), 'bad_input', /absolute path/, 'file');
    await rejectsWith(
      c.extract({ file, workspaceDir: ws, extractionId: 'no spaces' }),
      'bad_input',
      /letters, digits/,
      'extractionId',
    );
    const missing = await rejectsWith(
      c.extract({ file: path.join(ws, 'missing.aft.yaml'), workspaceDir: ws }),
      'bad_input',
      /cannot read experiment file/,
    );
    assert.equal(missing.data?.location?.file, path.join(ws, 'missing.aft.yaml'));
  });
});
