/**
 * The built-in pre-trained student (`downstream: { model: pretrained, builtin: mnist-resnet }`)
 * through the `aft` CLI: built once (in 2 steps here: AFT_TEACHER_STEPS) into a hub folder with
 * its build record, reused by the next run, built again when a file of it is damaged; and a
 * study over `downstream.weights` (pre-trained against the same network from scratch), the
 * paper's comparison in one file.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { LogEvent, RunEvent } from '../../core/common/protocol/events';
import { readStudy } from '../../core/node/runs/studies';
import { runAft } from '../helpers/cli';

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-builtin-student-'));
const env = { AFT_CACHE_DIR: path.join(ws, 'cache'), AFT_TEACHER_STEPS: '2' };
const experiment = (extra = ''): string => `name: builtin-student
dataset: { source: mnist, train: 60, test: 60 }
pretrained:
  - { name: noise, noise: 8 }
downstream: { model: pretrained, builtin: mnist-resnet }
methods: [stl, aft]
beta: { aft: 1 }
train: { steps: 2, batch: 16 }
backend: wasm
${extra}`;

function run(file: string, text: string): { code: number | null; logs: string[]; stderr: string } {
  fs.writeFileSync(path.join(ws, file), text);
  const r = runAft(['run', file, '--json'], ws, env);
  const logs = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as RunEvent)
    .filter((e): e is LogEvent => e.type === 'log')
    .map((e) => e.message);
  return { code: r.code, logs, stderr: r.stderr };
}

describe('the built-in pre-trained student', () => {
  const folder = path.join(ws, 'cache', 'students', 'mnist-resnet-v1-steps2');

  it('a study over downstream.weights builds it once, fine-tunes it and trains it from scratch', () => {
    const r = run('study.aft.yaml', experiment('study: { vary: downstream.weights, values: [pretrained, random] }\n'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.logs.filter((m) => /^building the built-in student/.test(m)).length, 1, r.logs.join('\n'));
    assert.ok(r.logs.some((m) => /pre-trained weights/.test(m)));
    assert.ok(r.logs.some((m) => /random weights \(from scratch\)/.test(m)));
    assert.deepEqual(fs.readdirSync(folder).sort(), ['aft-build.json', 'config.json', 'model.safetensors']);
    const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.architecture, 'resnet18');
    assert.equal(config.num_classes, 5);
    const studies = fs.readdirSync(path.join(ws, '.aft', 'runs'));
    const study = readStudy(path.join(ws, '.aft', 'runs', studies[0]));
    assert.equal(study.state, 'completed');
    for (const v of study.values) assert.ok(Number.isFinite(v.summary?.methods.aft?.test_accuracy.mean), v.label);
  });

  it('is taken from the cache the next time, and built again when a file of it is damaged', () => {
    let r = run('plain.aft.yaml', experiment());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.logs.some((m) => /^building/.test(m)), r.logs.join('\n'));
    const weights = path.join(folder, 'model.safetensors');
    const bytes = fs.readFileSync(weights);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(weights, bytes);
    r = run('plain.aft.yaml', experiment());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.logs.some((m) =>
        /is damaged \(model\.safetensors does not match the sha256 in aft-build\.json\); building it again/.test(m),
      ),
      r.logs.join('\n'),
    );
    assert.notDeepEqual(fs.readFileSync(weights), bytes);
    assert.deepEqual(
      fs.readdirSync(path.dirname(folder)).filter((n) => n.includes('.tmp-')),
      [],
      'no temporary folder left',
    );
  });
});
