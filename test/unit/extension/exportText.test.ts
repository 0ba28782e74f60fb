/** What Extract Features and Export Model to ONNX show, from the store and the sidecar's answers. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  defaultExportPath,
  exportChoices,
  exportSummaryText,
  extractProgressText,
  extractSummaryText,
  readRunSummary,
} from '../../../extension/src/runs/exportText';
import type { MethodSummary } from '../../../core/common/protocol/events';
import type { ExportReport, ExtractEntry } from '../../../core/common/protocol/rpc';

const method = (perSeed: Record<string, number>): MethodSummary => ({
  kind: 'aft',
  test_accuracy: { mean: 0.5, se: 0, per_seed: perSeed },
  beta: 1,
  tuning: [],
  train_seconds: 1,
});

describe('export and extract texts', () => {
  it('offers every (method, seed) of summary.json, seeds ascending, with the default path next to the run', () => {
    const choices = exportChoices({ methods: { stl: method({ '1': 0.8, '0': 0.7 }), aft: method({ '0': 0.9 }) } });
    assert.deepEqual(choices, [
      { method: 'stl', seed: 0, accuracy: 0.7 },
      { method: 'stl', seed: 1, accuracy: 0.8 },
      { method: 'aft', seed: 0, accuracy: 0.9 },
    ]);
    assert.equal(defaultExportPath('/ws/.aft/runs/r1', choices[1]), path.join('/ws/.aft/runs/r1', 'stl-seed-1.onnx'));
    assert.equal(defaultExportPath('/r', { method: 'a/b', seed: 0 }), path.join('/r', 'a_b-seed-0.onnx'));
  });

  it('reads summary.json, and says undefined for a missing or broken one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-et-'));
    assert.equal(readRunSummary(dir), undefined);
    fs.writeFileSync(path.join(dir, 'summary.json'), '{"methods": ');
    assert.equal(readRunSummary(dir), undefined);
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ methods: { aft: method({ '2': 1 }) } }));
    assert.deepEqual(exportChoices(readRunSummary(dir)!), [{ method: 'aft', seed: 2, accuracy: 1 }]);
    fs.rmSync(dir, { recursive: true });
  });

  it('summarises an export: path, parameters, cost vs the pre-trained models, verification', () => {
    const r: ExportReport = {
      file: '/ws/m.onnx',
      bytes: 100,
      opset: 17,
      method: 'aft',
      seed: 0,
      model: 'cnn',
      checkpoint: '/c',
      parameters: 1234,
      verification: { examples: 6, maxAbsDiff: 2.5e-7, tolerance: 1e-4, provider: 'cpu' },
      cost: {
        provider: 'cpu',
        batch: 32,
        models: [
          { name: 'aft (cnn)', kind: 'downstream', parameters: 1234, msPerExample: 0.005 },
          { name: 'vit (onnx)', kind: 'pretrained', parameters: 1_000_000, msPerExample: 0.5 },
        ],
      },
    };
    assert.equal(
      exportSummaryText(r),
      'exported aft seed 0 to /ws/m.onnx: 1,234 parameters, 5.0 µs/example in onnxruntime (cpu). vs vit (onnx): 1,000,000 parameters, 0.500 ms/example (100.0× slower). max |logit difference| to the trained model 2.5e-7 on 6 test examples',
    );
  });

  it('shows extraction progress and what was written or reused', () => {
    assert.equal(
      extractProgressText({
        label: 'extracting vit (cpu)',
        step: 120,
        steps: 400,
        itemsPerSecond: 85.25,
        etaSeconds: 3.2,
      }),
      'extracting vit (cpu): 120/400 · 85.3 items/s · 3 s left',
    );
    assert.equal(
      extractProgressText({ label: 'building mnist-teacher (one time)', step: 3, steps: 10, etaSeconds: null }),
      'building mnist-teacher (one time): 3/10',
    );
    const entry = (e: Partial<ExtractEntry>): ExtractEntry => ({
      source: 'vit',
      key: 'k',
      dir: '/d',
      cached: false,
      complete: true,
      chunks: { present: 1, total: 1 },
      extracted: 24,
      seconds: 0.6,
      itemsPerSecond: 40,
      provider: 'cpu',
      ...e,
    });
    assert.equal(
      extractSummaryText([
        entry({}),
        entry({ source: 'pooled', cached: true, extracted: 0, seconds: 0, itemsPerSecond: null, provider: null }),
        entry({ source: 'half', complete: false, chunks: { present: 2, total: 3 } }),
      ]),
      'vit: 24 examples extracted in 1 s, 40.0 items/s on cpu; pooled: already cached; half: 24 examples extracted in 1 s, 40.0 items/s on cpu; 2 of 3 chunks present (other shards pending)',
    );
    assert.match(extractSummaryText([]), /nothing to extract/);
  });
});
