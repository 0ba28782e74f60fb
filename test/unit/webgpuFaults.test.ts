/**
 * A GPU that lets a run down: the WebGPU device lost mid-run (destroyed here, as a driver reset or
 * a removed GPU would lose it) fails the run with what happened and what to change, and the jobs
 * that finished before are kept; an out-of-memory error is told apart from other WebGPU errors.
 * The run is on the webgpu backend of this machine (lavapipe in CI), in its own process: the
 * device it destroys is not used again.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { experimentSchema } from '../../core/node/experiment/schema';
import { readRunStatus } from '../../core/node/runs/store';
import { AftError } from '../../core/common/util/errors';
import { gpuErrorKind, gpuFailure, tf } from '../../sidecar/src/runtime/tf';
import { runExperiment } from '../../sidecar/src/train/run';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';
import { skipUnlessWebgpu, startTestBackend } from '../helpers/backends';

describe('GPU faults', () => {
  it('out of memory is told apart from other WebGPU errors, each saying what to change', () => {
    class GPUOutOfMemoryError {
      message = 'Allocation of 4294967296 bytes failed';
    }
    const cases: { error: { message?: string; constructor?: { name?: string } }; kind: string }[] = [
      { error: new GPUOutOfMemoryError(), kind: 'memory' },
      { error: { message: 'Out of memory while creating buffer' }, kind: 'memory' },
      { error: { message: 'Binding size is larger than the maximum binding size' }, kind: 'error' },
    ];
    for (const c of cases) assert.equal(gpuErrorKind(c.error), c.kind, c.error.message);
    assert.match(gpuFailure('memory', 'x').message, /ran out of memory.*kept in the run folder.*lower `train.batch`/);
    assert.match(gpuFailure('lost', 'destroyed').message, /GPU was lost mid-run.*kept in the run folder.*again/);
    assert.equal(gpuFailure('error', 'x').code, 'run_failed');
  });

  it(
    'a device lost mid-run fails the run with the reason; the finished jobs are kept',
    { skip: skipUnlessWebgpu },
    async () => {
      await startTestBackend('webgpu');
      const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-gpu-lost-'));
      writeArrayWorkspace(ws, { train: 64, test: 32 });
      const experiment = experimentSchema.parse({
        name: 'gpu-lost',
        dataset: {
          source: 'npy',
          train: { inputs: 'x_train.npy', labels: 'y_train.npy' },
          test: { inputs: 'x_test.npy', labels: 'y_test.npy' },
        },
        downstream: { model: 'mlp', hidden: [8] },
        methods: ['stl'],
        seeds: [0, 1],
        train: { steps: 400, batch: 16, eval_every: 50 },
        backend: 'webgpu',
      });
      let runDir = '';
      let destroyed = false;
      const outcome = runExperiment(
        { experiment, baseDir: ws, sourceText: '' },
        {
          workspaceDir: ws,
          sink: (e) => {
            if (e.type === 'status' && e.state === 'running') runDir = e.runDir;
            // Seed 0's training is done (its checkpoint written) when seed 1's first steps report.
            if (!destroyed && e.type === 'progress' && e.job === 2 && e.step > 20) {
              destroyed = true;
              (tf.backend() as unknown as { device: { destroy(): void } }).device.destroy();
            }
          },
        },
      );
      await assert.rejects(outcome, (e: unknown) => {
        assert.ok(e instanceof AftError, String(e));
        assert.match(e.message, /the GPU was lost mid-run \(WebGPU device lost: destroyed/);
        return true;
      });
      assert.ok(destroyed);
      const status = readRunStatus(runDir);
      assert.equal(status.state, 'failed');
      assert.match(status.message ?? '', /GPU was lost mid-run.*use `backend: wasm`/);
      assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'stl-seed-0.safetensors')), 'seed 0 is kept');
      assert.ok(!fs.existsSync(path.join(runDir, 'checkpoints', 'stl-seed-1.safetensors')));
    },
  );
});
