/**
 * The engine end to end on small real files: an experiment with .npy inputs and precomputed
 * features trains every method, writes a complete run store, and refuses bad data clearly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadExperiment } from '../../sidecar/src/experiment/load';
import { encodeNpy } from '../../core/node/io/npy';
import type { RunEvent, RunSummary } from '../../core/common/protocol/events';
import { readRunStatus } from '../../core/node/runs/store';
import { initBackend } from '../../sidecar/src/runtime/tf';
import { runExperiment } from '../../sidecar/src/train/run';
import { AftError } from '../../core/common/util/errors';

const fixtures = path.join(__dirname, '..', 'fixtures');
const ablation = path.join(fixtures, 'experiments', 'valid', 'npy-ablation.aft.yaml');

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'aft-engine-'));
}

async function run(file: string, workspaceDir: string, events: RunEvent[] = [], signal?: AbortSignal) {
  const loaded = loadExperiment(file);
  return runExperiment(
    { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: fs.readFileSync(file, 'utf8') },
    { workspaceDir, sink: (e) => events.push(e), ...(signal ? { signal } : {}) },
  );
}

describe('engine on .npy data', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  it('trains every AFT variant and writes a complete run', async () => {
    const ws = tmpdir();
    const events: RunEvent[] = [];
    const out = await run(ablation, ws, events);
    const status = readRunStatus(out.dir);
    assert.equal(status.state, 'completed');
    const summary = JSON.parse(fs.readFileSync(path.join(out.dir, 'summary.json'), 'utf8')) as RunSummary;
    assert.deepEqual(Object.keys(summary.methods), [
      'aft',
      'aft-rbf',
      'aft-dense',
      'aft-fixed',
      'aft-bilevel',
      'aft-no-kernel',
    ]);
    for (const m of Object.values(summary.methods)) {
      assert.ok(m.test_accuracy.mean > 0.4, `accuracy ${m.test_accuracy.mean} is not above chance (1/3) by a margin`);
      assert.equal(Object.keys(m.test_accuracy.per_seed).length, 1);
    }
    // aft-rbf has a grid of two β: it was tuned on the holdout and the choice is recorded.
    const tuning = summary.methods['aft-rbf'].tuning[0];
    assert.deepEqual(
      tuning.candidates.map((c) => c.beta),
      [1, 10],
    );
    assert.ok([1, 10].includes(summary.methods['aft-rbf'].beta));
    // ρ: learned for sigmoid ρ, frozen at 0.5 for identity; per source segment.
    assert.deepEqual(Object.keys(summary.methods.aft.rho_mean_by_source!), ['clip', 'noise']);
    assert.ok(Math.abs(summary.methods['aft-fixed'].rho_mean_by_source!.clip - 0.5) < 1e-6);
    assert.notEqual(summary.methods.aft.rho_mean_by_source!.clip, 0.5);
    // Fig. 6a: logistic regression on each source's raw ψ, and on ψ ⊙ ρ for the methods with a ρ.
    for (const src of summary.sources) assert.ok(src.raw_probe_accuracy! > 0, `${src.name} has no raw probe`);
    for (const name of ['aft', 'aft-fixed', 'aft-bilevel'])
      assert.deepEqual(Object.keys(summary.methods[name].raw_probe_rho_by_source!), ['clip', 'noise'], name);
    assert.equal(summary.methods['aft-no-kernel'].raw_probe_rho_by_source, undefined);
    assert.ok(summary.raw_probe_concat! > 0 && summary.methods.aft.raw_probe_rho_concat! > 0);
    const rho = JSON.parse(fs.readFileSync(path.join(out.dir, 'rho', 'aft', 'seed-0.json'), 'utf8')) as {
      values: number[];
      segments: { name: string; width: number }[];
    };
    assert.equal(rho.values.length, 6 + 16);
    assert.deepEqual(
      rho.segments.map((s) => [s.name, s.width]),
      [
        ['clip', 6],
        ['noise', 16],
      ],
    );
    assert.ok(fs.existsSync(path.join(out.dir, 'checkpoints', 'aft-seed-0.safetensors')));
    const metrics = fs
      .readFileSync(path.join(out.dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(metrics.some((m) => m.phase === 'tune') && metrics.some((m) => m.phase === 'final'));
    for (const m of metrics)
      for (const k of ['step', 'method', 'seed', 'beta', 'ce', 'reg', 'trainAccuracy', 'evalAccuracy'])
        assert.ok(k in m, `metrics row lacks ${k}`);
    // Events: status running → completed, progress with ETA, one result per method.
    assert.deepEqual(
      events.filter((e) => e.type === 'status').map((e) => (e as { state: string }).state),
      ['running', 'completed'],
    );
    assert.equal(events.filter((e) => e.type === 'result').length, 6);
    assert.ok(events.some((e) => e.type === 'progress' && e.etaSeconds !== null));
  });

  it('trains the baselines (rkd, ft, btune) and reports source quality', async () => {
    const out = await run(path.join(fixtures, 'experiments', 'valid', 'npy-baselines.aft.yaml'), tmpdir());
    const s = out.summary;
    assert.deepEqual(Object.keys(s.methods), ['stl', 'rkd', 'ft', 'btune']);
    for (const [name, m] of Object.entries(s.methods))
      assert.ok(
        Number.isFinite(m.test_accuracy.mean) && m.test_accuracy.mean > 0.4,
        `${name}: ${m.test_accuracy.mean}`,
      );
    // The toy "clip" features encode the class; the noise source does not.
    const [clip, noise] = s.sources;
    assert.ok(clip.linear_probe_accuracy! > 0.9, `clip probe ${clip.linear_probe_accuracy}`);
    assert.ok(noise.linear_probe_accuracy! < 0.6, `noise probe ${noise.linear_probe_accuracy}`);
    assert.ok(clip.logme_score! > noise.logme_score!);
    assert.ok(s.linear_probe_concat! > 0.8);
  });

  it('marks a cancelled run cancelled, without a summary', async () => {
    const ws = tmpdir();
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const p = run(ablation, ws, events, controller.signal);
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(p, (e: unknown) => e instanceof AftError && e.code === 'cancelled');
    const dir = (events.find((e) => e.type === 'status') as { runDir: string }).runDir;
    assert.equal(readRunStatus(dir).state, 'cancelled');
    assert.ok(!fs.existsSync(path.join(dir, 'summary.json')));
    assert.equal(events.at(-1)?.type, 'status');
  });

  const badCases: [string, (dir: string) => void, RegExp][] = [
    [
      'NaN in features',
      (d) => {
        const f = new Float32Array(96 * 6);
        f[6 * 7 + 2] = NaN;
        fs.writeFileSync(path.join(d, 'f_train.npy'), encodeNpy(f, [96, 6]));
      },
      /1 NaN or Inf value; the first is in row 7/,
    ],
    [
      'label out of range',
      (d) => {
        const y = new Int32Array(48);
        y[5] = 7;
        fs.writeFileSync(path.join(d, 'y_test.npy'), encodeNpy(y, [48]));
      },
      /outside 0\.\.2; the first is row 5 \(value 7\)/,
    ],
    [
      'row mismatch',
      (d) => fs.writeFileSync(path.join(d, 'f_test.npy'), encodeNpy(new Float32Array(40 * 6), [40, 6])),
      /has 40 rows but the test split has 48 examples/,
    ],
    [
      'empty split',
      (d) => {
        fs.writeFileSync(path.join(d, 'x_test.npy'), encodeNpy(new Float32Array(0), [0, 8]));
        fs.writeFileSync(path.join(d, 'y_test.npy'), encodeNpy(new Int32Array(0), [0]));
      },
      /test split is empty/,
    ],
  ];
  for (const [name, spoil, pattern] of badCases) {
    it(`refuses ${name} with where and what`, async () => {
      const ws = tmpdir();
      const data = path.join(ws, 'data');
      fs.cpSync(path.join(fixtures, 'data'), data, { recursive: true });
      spoil(data);
      const exp = path.join(ws, 'exp', 'sub', 'e.aft.yaml');
      fs.mkdirSync(path.dirname(exp), { recursive: true });
      fs.writeFileSync(exp, fs.readFileSync(ablation, 'utf8'));
      // Found by the header checks before the run (the editor's checks), or by the loaders.
      await assert.rejects(
        run(exp, ws),
        (e: unknown) =>
          e instanceof AftError && e.code === 'bad_input' && pattern.test(e.format()) && Boolean(e.location?.file),
      );
      // Bad input found before training leaves no run folder behind.
      const runsDir = path.join(ws, '.aft', 'runs');
      assert.deepEqual(fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [], []);
    });
  }
});
