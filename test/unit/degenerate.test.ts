/**
 * Degenerate data through the whole engine: constant features, a single class, fewer examples
 * than classes. Each gives a clear message (refused before training when nothing could finish),
 * and a run that completes has no NaN anywhere in its summary or its table.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { resultsTable } from '../../sidecar/src/cli/table';
import { loadExperiment } from '../../sidecar/src/experiment/load';
import { encodeNpy } from '../../core/node/io/npy';
import type { RunEvent, RunSummary } from '../../core/common/protocol/events';
import { initBackend } from '../../sidecar/src/runtime/tf';
import { runExperiment } from '../../sidecar/src/train/run';
import { AftError } from '../../core/common/util/errors';

const fixtures = path.join(__dirname, '..', 'fixtures');

/** The toy .npy task in a fresh folder, with `spoil` applied to its data and `yaml` as the experiment. */
async function run(
  spoil: (data: string) => void,
  methods: string,
  beta: string,
  noise = true,
): Promise<{ summary?: RunSummary; error?: unknown; logs: RunEvent[]; runDir: string }> {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-degenerate-'));
  const data = path.join(ws, 'data');
  fs.cpSync(path.join(fixtures, 'data'), data, { recursive: true });
  spoil(data);
  const file = path.join(ws, 'e.aft.yaml');
  fs.writeFileSync(
    file,
    [
      'name: degenerate',
      'dataset:',
      '  source: npy',
      '  train: { inputs: data/x_train.npy, labels: data/y_train.npy }',
      '  test: { inputs: data/x_test.npy, labels: data/y_test.npy }',
      'pretrained:',
      '  - { name: clip, features: { train: data/f_train.npy, test: data/f_test.npy } }',
      ...(noise ? ['  - { name: noise, noise: 16 }'] : []),
      'downstream: { model: mlp, hidden: [16] }',
      `methods: [${methods}]`,
      `beta: ${beta}`,
      'train: { steps: 12, batch: 16 }',
      '',
    ].join('\n'),
  );
  const loaded = loadExperiment(file);
  const logs: RunEvent[] = [];
  try {
    const out = await runExperiment(
      { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: '' },
      { workspaceDir: ws, sink: (e) => logs.push(e) },
    );
    return { summary: out.summary, logs, runDir: out.dir };
  } catch (error) {
    const runDir = (logs.find((e) => e.type === 'status') as { runDir: string } | undefined)?.runDir ?? '';
    return { error, logs, runDir };
  }
}

const warnings = (logs: RunEvent[]): string[] =>
  logs.flatMap((e) => (e.type === 'log' && e.level === 'warn' ? [e.message] : []));
const constant = (file: string, rows: number, width: number) => (d: string) =>
  fs.writeFileSync(path.join(d, file), encodeNpy(new Float32Array(rows * width).fill(3), [rows, width]));
const labels = (file: string, y: number[]) => (d: string) =>
  fs.writeFileSync(path.join(d, file), encodeNpy(Int32Array.from(y), [y.length]));

/** Every number in a JSON value, with its path. */
function numbers(v: unknown, at = ''): [string, number][] {
  if (typeof v === 'number') return [[at, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => numbers(x, `${at}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => numbers(x, `${at}.${k}`));
  return [];
}

describe('degenerate data: clear messages, never NaN', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  it('constant features of one source: LogME and B-Tuning leave it out, say why, and the run completes', async () => {
    const r = await run(
      (d) => [constant('f_train.npy', 96, 6), constant('f_test.npy', 48, 6)].forEach((f) => f(d)),
      'stl, kd, aft, btune',
      '{ kd: 1, aft: 1, btune: 0.1 }',
    );
    assert.equal(r.error, undefined, String(r.error));
    const s = r.summary!;
    assert.match(s.sources[0].logme_error ?? '', /every feature is constant/);
    assert.equal(s.sources[0].logme_score, undefined);
    assert.ok(Number.isFinite(s.sources[1].logme_score), 'the noise source still has a LogME score');
    assert.ok(
      warnings(r.logs).some((w) => /btune: source clip gets no weight in B-Tuning/.test(w)),
      warnings(r.logs).join('\n'),
    );
    for (const [at, x] of numbers(s)) assert.ok(Number.isFinite(x), `summary${at} is ${x}`);
    const table = resultsTable(s);
    assert.doesNotMatch(table, /NaN|Infinity|undefined/);
    assert.match(table, /clip .*LogME n\/a \(LogME: every feature is constant/);
  });

  it('every source constant with B-Tuning: refused before any training, naming the method and why', async () => {
    const r = await run(
      (d) => [constant('f_train.npy', 96, 6), constant('f_test.npy', 48, 6)].forEach((f) => f(d)),
      'stl, btune',
      '{ btune: 0.1 }',
      false,
    );
    assert.ok(r.error instanceof AftError && r.error.code === 'bad_input', String(r.error));
    assert.match(
      r.error.message,
      /btune \(B-Tuning\) weights the pre-trained sources by their LogME, and no source has one \(clip: LogME: every feature is constant/,
    );
    assert.ok(!fs.existsSync(path.join(r.runDir, 'metrics.jsonl')), 'nothing was trained');
  });

  it('a single class: refused at load', async () => {
    const r = await run(
      (d) =>
        [
          labels('y_train.npy', new Array<number>(96).fill(0)),
          labels('y_test.npy', new Array<number>(48).fill(0)),
        ].forEach((f) => f(d)),
      'stl',
      '{}',
    );
    assert.ok(r.error instanceof AftError && r.error.code === 'bad_input', String(r.error));
    assert.match(
      r.error.message,
      /the dataset has 1 class \(every label is 0\); a classification task needs at least two classes/,
    );
  });

  it('fewer training examples than classes: a warning naming the missing class, and finite results', async () => {
    const r = await run(
      (d) => {
        const x = new Float32Array(2 * 8).map((_, i) => Math.sin(i));
        fs.writeFileSync(path.join(d, 'x_train.npy'), encodeNpy(x, [2, 8]));
        fs.writeFileSync(
          path.join(d, 'f_train.npy'),
          encodeNpy(
            new Float32Array(2 * 6).map((_, i) => Math.cos(i)),
            [2, 6],
          ),
        );
        labels('y_train.npy', [0, 2])(d);
      },
      'stl, kd',
      '{ kd: 1 }',
    );
    assert.equal(r.error, undefined, String(r.error));
    assert.ok(
      warnings(r.logs).some((w) =>
        /no example of 1 of the 3 classes \(1\): its 2 examples are fewer than the 3 classes/.test(w),
      ),
      warnings(r.logs).join('\n'),
    );
    assert.match(r.summary!.sources[0].logme_error ?? '', /2 examples are fewer than the 3 classes/);
    for (const [at, x] of numbers(r.summary)) assert.ok(Number.isFinite(x), `summary${at} is ${x}`);
    assert.doesNotMatch(resultsTable(r.summary!), /NaN|Infinity|undefined/);
  });
});
