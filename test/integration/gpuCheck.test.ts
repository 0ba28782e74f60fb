/**
 * The GPU check (scripts/gpu-check) on whatever WebGPU adapter this machine has (lavapipe in CI,
 * hence --allow-software): the golden cases and the extraction figures into the JSON, the
 * sections not asked for left out, the targets "not measured" with why; bad arguments exit 2.
 * The full check (steps, demo) takes minutes on a software adapter: scripts/gpu-check/README.md.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { skipUnlessWebgpu } from '../helpers/backends';

const root = path.join(__dirname, '..', '..');
const check = path.join(root, 'sidecar', 'src', 'bench', 'gpuCheck.ts');
const tsx = pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

interface CheckJson {
  ok: boolean;
  adapter: { limits: { maxBufferSize: number }; features: string[] };
  gpu_check: { verdicts: { id: string }[] };
  golden: { cases: number; passed: number; failed: number; max_relative_error: { gradients_and_weights: number } };
  extraction: {
    webgpu: { images_per_s: number };
    cpu: { images_per_s: number };
    webgpu_vs_cpu: { features: { relative_to_largest: number } };
  };
  targets: { status: string }[];
  [section: string]: unknown;
}

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, check, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('GPU check', () => {
  it('golden cases and extraction on the adapter, into the JSON', { skip: skipUnlessWebgpu }, () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-gpucheck-')), 'gpu-check.json');
    const r = run(['--allow-software', '--only', 'golden,extraction', '--budget-s', '200', '--out', out]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = JSON.parse(fs.readFileSync(out, 'utf8')) as CheckJson;
    assert.ok(j.adapter.limits.maxBufferSize > 0 && Array.isArray(j.adapter.features));
    assert.ok(['gpu', 'onnx-cuda', 'webgpu'].every((id) => j.gpu_check.verdicts.some((v) => v.id === id)));
    assert.equal(j.golden.failed, 0);
    assert.equal(j.golden.passed, j.golden.cases);
    assert.ok(j.golden.max_relative_error.gradients_and_weights <= 1e-3);
    assert.ok(j.extraction.webgpu.images_per_s > 0 && j.extraction.cpu.images_per_s > 0, JSON.stringify(j.extraction));
    assert.ok(j.extraction.webgpu_vs_cpu.features.relative_to_largest < 1e-3);
    for (const s of ['steps', 'demo', 'cpu-steps']) assert.equal(j[s], undefined, `${s} was not asked for`);
    assert.equal(j.ok, true);
    assert.deepEqual(
      j.targets.map((t) => t.status),
      ['not measured', 'not measured'],
    );
    assert.match(r.stdout, /golden on webgpu: \d+\/\d+ pass, 0 fail/);
  });

  it('bad arguments exit 2 with the usage', () => {
    for (const args of [['--budget-s', 'x'], ['--only', 'nothing'], ['--frob']]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: node gpu-check\.js/);
    }
  });
});
