/**
 * The GPU runtime folder as the CLI uses it: a tfjs-node-gpu installed there (without its own
 * TensorFlow.js, as the installer leaves it) loads and gets the sidecar's TensorFlow.js; an
 * onnxruntime-node there counts only with its CUDA provider.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  defaultGpuRuntimeDir,
  onnxBindingDir,
  onnxCudaProviderFile,
  runtimeOnnxWithCuda,
  tfjsNodeGpuFiles,
} from '../../core/node/gpu/runtime';
import { useGpuRuntime } from '../../sidecar/src/runtime/gpuRuntime';

function fakeRuntime(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-gpurt-'));
  const pkg = path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  fs.mkdirSync(path.join(pkg, 'deps', 'lib'), { recursive: true });
  fs.mkdirSync(path.join(pkg, 'lib', 'napi-v8'), { recursive: true });
  fs.writeFileSync(
    path.join(pkg, 'package.json'),
    JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '4.22.0', main: 'index.js' }),
  );
  // Like the real one: it registers with whatever @tensorflow/tfjs it resolves.
  fs.writeFileSync(path.join(pkg, 'index.js'), "module.exports = require('@tensorflow/tfjs');\n");
  fs.writeFileSync(path.join(pkg, 'deps', 'lib', 'libtensorflow.so.2'), '');
  fs.writeFileSync(path.join(pkg, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
  return dir;
}

describe('GPU runtime folder', () => {
  it('the CLI makes its tfjs-node-gpu loadable, registering with our TensorFlow.js', () => {
    const rt = fakeRuntime();
    const before = process.env.NODE_PATH;
    const env = process.env.AFT_GPU_RUNTIME;
    try {
      delete process.env.AFT_GPU_RUNTIME;
      assert.equal(useGpuRuntime(path.join(rt, 'absent')), undefined);
      assert.equal(useGpuRuntime(rt), rt);
      assert.equal(process.env.AFT_GPU_RUNTIME, rt);
      const req = createRequire(path.join(os.tmpdir(), 'elsewhere.js'));
      assert.equal(req('@tensorflow/tfjs-node-gpu'), createRequire(__filename)('@tensorflow/tfjs'));
      assert.deepEqual(tfjsNodeGpuFiles(path.join(rt, 'node_modules', '@tensorflow', 'tfjs-node-gpu')), {
        version: '4.22.0',
        dir: path.join(rt, 'node_modules', '@tensorflow', 'tfjs-node-gpu'),
        libtensorflow: true,
        binding: true,
      });
    } finally {
      if (before === undefined) delete process.env.NODE_PATH;
      else process.env.NODE_PATH = before;
      if (env === undefined) delete process.env.AFT_GPU_RUNTIME;
      else process.env.AFT_GPU_RUNTIME = env;
    }
  });

  it('its onnxruntime-node is used only with the CUDA provider in it', () => {
    const rt = fakeRuntime();
    const bin = onnxBindingDir(path.join(rt, 'node_modules', 'onnxruntime-node'));
    fs.mkdirSync(bin, { recursive: true });
    assert.equal(runtimeOnnxWithCuda(rt), undefined);
    fs.writeFileSync(path.join(bin, onnxCudaProviderFile()), '');
    assert.equal(runtimeOnnxWithCuda(rt), path.join(rt, 'node_modules', 'onnxruntime-node'));
  });

  it('the CLI default folder: AFT_GPU_RUNTIME, else the user data folder', () => {
    assert.equal(defaultGpuRuntimeDir({ AFT_GPU_RUNTIME: '/x/rt' }), path.resolve('/x/rt'));
    if (process.platform === 'linux')
      assert.equal(defaultGpuRuntimeDir({ XDG_DATA_HOME: '/d' }), '/d/aft-studio/gpu-runtime');
  });
});
