/**
 * A training job gives back every tensor it made: after it, with its model and method disposed,
 * as many tensors are alive as before. tf.variable(t) keeps t alive next to the variable, and
 * every job once leaked its initial weights, its optimiser state and ρ that way (ResNet-18: 146
 * tensors, 128 MB a job, until a study ran the wasm heap out).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { downstreamSchema, type DownstreamSpec } from '../../core/node/experiment/schema';
import { mnistStepData, randomImageData, STEP_METHODS, timeJob, type StepData } from '../../sidecar/src/bench/steps';
import { initBackend, tf, type BackendChoice } from '../../sidecar/src/runtime/tf';

const cases: [string, () => DownstreamSpec, () => StepData][] = [
  ['the demo MLP', () => downstreamSchema.parse({ model: 'mlp', hidden: [16] }), () => mnistStepData(8)],
  ['a CNN', () => downstreamSchema.parse({ model: 'cnn', channels: [4], hidden: [8] }), () => mnistStepData(8)],
  [
    'a pretrained ResNet',
    () =>
      downstreamSchema.parse({
        model: 'pretrained',
        folder: path.join(__dirname, '..', 'fixtures', 'students', 'resnet18-tiny'),
      }),
    () => randomImageData([16, 16, 3], 8, 4, 8),
  ],
];

describe('a training job leaves no tensor behind', () => {
  for (const backend of ['cpu', 'wasm'] as BackendChoice[])
    for (const [what, spec, data] of cases)
      for (const method of ['stl', 'aft'] as const)
        it(`${what}, ${method}, on ${backend}`, async () => {
          await initBackend(backend);
          const before = tf.memory().numTensors;
          await timeJob(spec(), STEP_METHODS[method], data(), 4, 2);
          assert.equal(tf.memory().numTensors, before, 'tensors alive after the job');
        });
});
