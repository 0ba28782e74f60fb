/**
 * The webgpu backend's adapter policy: which adapters count as software, what `auto` does with
 * one, and how a backend asked for by name that cannot start is refused. `auto` runs in a child
 * process (a process keeps the first backend it starts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { softwareReason } from '../../sidecar/src/runtime/webgpu';
import { skipUnlessWebgpu } from '../helpers/backends';

const root = path.join(__dirname, '..', '..');
const tsx = pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** Runs `initBackend(choice)` in a fresh process and answers what it picked, or its error. */
function initIn(
  choice: string,
  env: NodeJS.ProcessEnv = {},
): {
  id?: string;
  adapter?: { software: boolean };
  skipped?: { id: string; reason: string }[];
  error?: { code?: string; message: string };
} {
  const script = `
    const { initBackend } = require(${JSON.stringify(path.join(root, 'sidecar', 'src', 'runtime', 'tf.ts'))});
    initBackend(${JSON.stringify(choice)}).then(
      (b) => console.log(JSON.stringify({ id: b.id, adapter: b.adapter, skipped: b.skipped })),
      (e) => console.log(JSON.stringify({ error: { code: e.code, message: e.message } })),
    );`;
  const r = spawnSync(process.execPath, ['--import', tsx, '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `no answer from the child (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(line) as ReturnType<typeof initIn>;
}

describe('WebGPU adapters', () => {
  it('classes software rasterisers as software and GPUs as GPUs', () => {
    const software = [
      {
        vendor: 'mesa',
        architecture: 'software',
        device: 'llvmpipe-llvm-15-0-6-256-bits-',
        description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
      },
      { vendor: 'google', architecture: '', device: 'swiftshader device', description: 'SwiftShader Device (Subzero)' },
      { vendor: 'microsoft', architecture: '', device: '', description: 'Microsoft Basic Render Driver' },
      { vendor: 'x', architecture: 'software', device: '', description: '' },
      { vendor: 'x', architecture: '', device: '', description: 'something', isFallbackAdapter: true },
    ];
    for (const i of software) assert.ok(softwareReason(i), `${JSON.stringify(i)} counted as a GPU`);
    assert.match(softwareReason(software[0])!, /llvmpipe/);
    const gpus = [
      { vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA GeForce RTX 3080' },
      { vendor: 'apple', architecture: 'metal-3', device: '', description: 'Apple M2' },
      { vendor: 'amd', architecture: 'rdna-2', device: '', description: 'AMD Radeon RX 6800 (RADV NAVI21)' },
      {
        vendor: 'intel',
        architecture: 'gen-12lp',
        device: '',
        description: 'Intel(R) UHD Graphics 770',
        isFallbackAdapter: false,
      },
    ];
    for (const i of gpus) assert.equal(softwareReason(i), undefined, `${JSON.stringify(i)} counted as software`);
  });

  it('auto passes over a software adapter, saying why, and takes a GPU one', () => {
    const r = initIn('auto');
    assert.ok(r.id, `auto started nothing: ${r.error?.message}`);
    const skipped = r.skipped?.find((s) => s.id === 'webgpu');
    if (r.id === 'webgpu') {
      assert.equal(r.adapter?.software, false, 'auto started webgpu on a software adapter');
    } else if (r.id !== 'gpu') {
      assert.ok(skipped, `auto took ${r.id} without trying webgpu`);
      // With lavapipe (CI) the reason names the software adapter; elsewhere why there is none.
      assert.match(skipped.reason, /software rasteriser|no adapter|did not load|Cannot find/);
    }
  });

  it(
    'a backend asked for by name that cannot start is bad input, with the reason',
    { skip: process.platform !== 'linux' && 'Vulkan loader variables are Linux only' },
    () => {
      // No Vulkan driver at all: Dawn finds no adapter.
      const r = initIn('webgpu', {
        VK_ICD_FILENAMES: path.join(root, 'no-such-icd.json'),
        VK_DRIVER_FILES: path.join(root, 'no-such-icd.json'),
      });
      assert.equal(r.error?.code, 'bad_input');
      assert.match(r.error.message, /^backend webgpu was asked for but cannot start: WebGPU found no adapter/);
    },
  );

  it(
    'onnxruntime device webgpu by name that cannot start is bad input, with the reason',
    { skip: process.platform !== 'linux' && 'Vulkan loader variables are Linux only' },
    () => {
      const noDriver = path.join(root, 'no-such-icd.json');
      const script = `
      const { OnnxSession } = require(${JSON.stringify(path.join(root, 'sidecar', 'src', 'runtime', 'onnx.ts'))});
      OnnxSession.open(${JSON.stringify(path.join(root, 'test', 'fixtures', 'hf', 'tiny-vit', 'onnx', 'model.onnx'))}, { device: 'webgpu' }).then(
        (s) => console.log(JSON.stringify({ provider: s.provider })),
        (e) => console.log(JSON.stringify({ error: { code: e.code, message: e.message } })),
      );`;
      const r = spawnSync(process.execPath, ['--import', tsx, '-e', script], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, VK_ICD_FILENAMES: noDriver, VK_DRIVER_FILES: noDriver },
      });
      const answer = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as {
        error?: { code?: string; message: string };
      };
      assert.equal(answer.error?.code, 'bad_input', r.stdout + r.stderr);
      assert.match(
        answer.error.message,
        /^device webgpu was asked for but the WebGPU provider did not start: .*adapter/,
      );
    },
  );

  it('AFT_WEBGPU=off (aft.device: cpu) keeps WebGPU off, even by name', () => {
    const r = initIn('webgpu', { AFT_WEBGPU: 'off' });
    assert.equal(r.error?.code, 'bad_input');
    assert.match(r.error.message, /WebGPU is turned off/);
  });

  it('webgpu by name takes the adapter there is, software or not', { skip: skipUnlessWebgpu }, () => {
    const r = initIn('webgpu');
    assert.equal(r.id, 'webgpu', `webgpu did not start: ${r.error?.message}`);
    assert.equal(typeof r.adapter?.software, 'boolean');
  });
});
