/**
 * `aft extract` and `aft export` as a user (or a cluster job array) runs them: shards in separate
 * processes merge into one cache entry, a finished cache is reported as such, `--json` gives
 * machine-readable results, and the exported model is verified and costed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ExtractResultLine } from '../../sidecar/src/cli/extract';
import type { ExportReport } from '../../sidecar/src/export/exportRun';
import { listRuns } from '../../core/node/runs/store';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';
import { runAft } from '../helpers/cli';

const aft = (args: string[], cwd: string) => runAft(args, cwd, { AFT_CACHE_DIR: path.join(cwd, 'user-cache') });

/** 1,200 examples of 8 numbers (three 512-row chunks) and a random MLP as the "pre-trained" model. */
function arrayWorkspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cli-x-'));
  writeArrayWorkspace(ws, { train: 1000, test: 200 });
  fs.writeFileSync(
    path.join(ws, 'exp.aft.yaml'),
    `name: arrays
dataset: { source: npy, train: { inputs: x_train.npy, labels: y_train.npy }, test: { inputs: x_test.npy, labels: y_test.npy } }
pretrained:
  - { name: mlp, onnx: { model: model.onnx, output: features, batch: 100 } }
methods: [stl, aft]
train: { steps: 10, batch: 50 }
`,
  );
  return ws;
}

describe('aft extract and aft export', () => {
  it('shards run as separate processes merge into one cache entry; a later call reports it cached', () => {
    const ws = arrayWorkspace();
    const s0 = aft(['extract', 'exp.aft.yaml', '--shard', '0/2'], ws);
    assert.equal(s0.code, 0, s0.stderr);
    assert.match(s0.stdout, /mlp: shard 0\/2 done \(688 examples.*\); 2 of 3 chunks present/);
    const s1 = aft(['extract', 'exp.aft.yaml', '--shard', '1/2', '--json'], ws);
    assert.equal(s1.code, 0, s1.stderr);
    const lines = s1.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; itemsPerSecond?: number });
    assert.ok(
      lines.some((l) => l.type === 'progress' && (l.itemsPerSecond ?? 0) > 0),
      'progress events with items/s',
    );
    const result = lines.at(-1) as unknown as ExtractResultLine;
    assert.deepEqual(
      [result.type, result.complete, result.cached, result.extracted, result.chunks],
      ['extract-result', true, false, 512, { present: 3, total: 3 }],
    );
    assert.ok(fs.existsSync(path.join(result.dir, 'meta.json')) && !fs.existsSync(path.join(result.dir, 'chunks')));
    const again = aft(['extract', 'exp.aft.yaml'], ws);
    assert.match(again.stdout, /mlp: cached/);
  });

  it('refuses a bad --shard and an export without --out (exit 2)', () => {
    const ws = arrayWorkspace();
    const bad = aft(['extract', 'exp.aft.yaml', '--shard', '2/2'], ws);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--shard expects i\/n with 0 <= i < n/);
    const noOut = aft(['export', 'whatever'], ws);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /needs --out/);
  });

  it('exports a trained run to ONNX, verified, with the cost table', () => {
    const ws = arrayWorkspace();
    const r = aft(['run', 'exp.aft.yaml', '--json'], ws);
    assert.equal(r.code, 0, r.stderr);
    const run = listRuns(ws)[0];
    const text = aft(['export', run.status.runId, '--out', 'small.onnx', '--method', 'stl'], ws);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /exported stl seed 0 \(mlp\) to .*small\.onnx \(opset 17/);
    assert.match(text.stdout, /verified on 200 test examples: max \|logit difference\| \d\.\d+e-\d+ \(limit 0\.0001\)/);
    assert.match(text.stdout, /stl \(mlp\)\s+[\d,]+\s+\d+\.\d+\nmlp \(onnx\)\s+178\s+\d+\.\d+/);
    const json = aft(['export', run.dir, '--out', 'small2.onnx', '--json'], ws);
    const report = JSON.parse(json.stdout) as ExportReport;
    assert.equal(report.method, 'aft');
    assert.ok(report.verification.maxAbsDiff <= 1e-4);
    const missing = aft(['export', run.dir, '--out', 'x.onnx', '--method', 'kd'], ws);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no checkpoint for kd seed 0; this run has: aft-seed-0, stl-seed-0/);
  });
});
