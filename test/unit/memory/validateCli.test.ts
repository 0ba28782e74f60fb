/**
 * `aft validate` (a real child process) on experiments with a pretrained student: the memory
 * estimate it shows and prints as JSON, a warning that does not fail the file, and a study
 * value refused where it is written. Broken student folders are fault cases
 * (test/faults/cases/inputs/students/).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { ValidateResult } from '../../../core/common/protocol/rpc';
import { runAft } from '../../helpers/cli';
import { checkExperimentFile, type CheckOptions } from '../../../sidecar/src/experiment/load';

const student = path.join(__dirname, '..', '..', 'fixtures', 'students', 'resnet18-tiny');

function experiment(lines: string): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-memory-'));
  const file = path.join(ws, 'exp.aft.yaml');
  fs.writeFileSync(
    file,
    `name: m\ndataset: { source: mnist, train: 100, test: 100 }\nmethods: [stl, aft]\npretrained:\n  - { name: t, builtin: mnist-teacher }\nbeta: { aft: 1 }\n${lines}`,
  );
  return file;
}

const validate = (args: string[], file: string) =>
  runAft(['validate', ...args, file], path.dirname(file), { AFT_CACHE_DIR: path.join(path.dirname(file), 'cache') });

describe('aft validate with a pretrained student', () => {
  it('shows the estimate, and --json gives it as data', () => {
    const file = experiment(
      `downstream: { model: pretrained, folder: ${JSON.stringify(student)} }\ntrain: { steps: 2, batch: 32 }\nbackend: wasm\n`,
    );
    const text = validate([], file);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^memory: estimated peak memory \d+ MiB at the \w+/m);
    assert.match(text.stdout, /on wasm ~\d+ MiB of the wasm heap's 4\.00 GiB \(32-bit\)/);
    const json = validate(['--json'], file);
    assert.equal(json.code, 0);
    const r = JSON.parse(json.stdout) as ValidateResult & { errors: number };
    assert.equal(r.errors, 0);
    assert.equal(r.memory?.level, 'ok');
    assert.equal(r.memory.limitBytes, 4294901760);
    assert.ok(r.memory.tensorBytes > 0 && r.memory.parts.length >= 3);
  });

  it('warns with `auto` when wasm could not hold it, and the file still validates', () => {
    const file = experiment(
      `downstream: { model: pretrained, folder: ${JSON.stringify(student)}, input_size: [1024, 1024] }\ntrain: { steps: 2, batch: 2048 }\n`,
    );
    const r = validate([], file);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /exp\.aft\.yaml:\d+:\d+: warning: train\.batch: estimated peak memory [\d.]+ GiB .*too much if `auto` picks wasm/,
    );
  });

  it("holds the memory against the run's backend (a --backend override), and not for extraction", () => {
    const file = experiment(
      `downstream: { model: pretrained, folder: ${JSON.stringify(student)}, input_size: [1024, 1024] }\ntrain: { steps: 2, batch: 2048 }\nbackend: wasm\n`,
    );
    const errors = (o: CheckOptions): string[] =>
      checkExperimentFile(file, o)
        .problems.filter((p) => p.severity === 'error')
        .map((p) => p.message);
    assert.match(errors({}).join('\n'), /training needs ~[\d.]+ GiB on wasm/);
    assert.deepEqual(errors({ backend: 'webgpu' }), []);
    assert.deepEqual(errors({ memory: false }), []);
  });

  it('refuses a study value that wasm cannot hold, at the value', () => {
    const file = experiment(
      `downstream: { model: pretrained, folder: ${JSON.stringify(student)}, input_size: [1024, 1024] }\ntrain: { steps: 2, batch: 8 }\nbackend: wasm\nstudy: { vary: train.batch, values: [8, 2048] }\n`,
    );
    const r = validate([], file);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => / error: /.test(l));
    assert.equal(lines.length, 1, r.stdout);
    assert.match(lines[0], /training needs ~[\d.]+ GiB on wasm/);
    // At the value 2048 in the study's line.
    const src = fs.readFileSync(file, 'utf8').split('\n');
    const row = src.findIndex((l) => l.startsWith('study:'));
    assert.ok(lines[0].includes(`exp.aft.yaml:${row + 1}:${src[row].indexOf('2048') + 1}:`), lines[0]);
  });
});
