/**
 * A pretrained ResNet student exported to ONNX against PyTorch: the fixtures' torchvision models
 * (test/fixtures/students/make_resnet.py) written by exportResNet and run by onnxruntime must give
 * PyTorch's eval-mode logits and φ on the reference input. This checks the graph (layouts,
 * BatchNorm in inference, padding of the max pool, the residual adds, the pooled φ) without tfjs;
 * the export's check against the trained tfjs model is in training.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensors } from '../../../core/node/io/safetensors';
import { exportStudent, studentParameterCount } from '../../../sidecar/src/export/student';
import { resnetFamily } from '../../../sidecar/src/models/students/resnet';
import { readHubFolder } from '../../../sidecar/src/models/pretrained';
import { OnnxSession } from '../../../sidecar/src/runtime/onnx';
import { nchwToNhwc } from '../../../sidecar/src/predict/predict';
import { relErr } from '../../helpers/numeric';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'students');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-resnet-onnx-'));

describe('a pretrained student exported to ONNX', () => {
  for (const name of ['resnet18-tiny', 'resnet50-tiny']) {
    it(`${name}: onnxruntime gives PyTorch's eval logits and φ (1e-4)`, async () => {
      const hub = readHubFolder(path.join(fixtures, name));
      const ref = readSafetensors(path.join(fixtures, `${name}.reference.safetensors`)).tensors;
      const [n, c, h, w] = ref.input.shape;
      const file = path.join(out, `${name}.onnx`);
      fs.writeFileSync(file, exportStudent(hub, [h, w, c], { method: 'stl' }));
      const session = await OnnxSession.open(file, { device: 'cpu', log: () => {} });
      try {
        const got = await session.run({ input: { type: 'float32', data: nchwToNhwc(ref.input), dims: [n, h, w, c] } }, [
          'logits',
          'features',
        ]);
        assert.deepEqual(got.logits.dims, [n, hub.shape.numClasses]);
        const errs = {
          logits: relErr(got.logits.data as Float32Array, ref['eval.logits'].data),
          phi: relErr(got.features.data as Float32Array, ref['eval.features'].data),
        };
        console.log(`${name} ONNX vs PyTorch: logits ${errs.logits.toExponential(2)}, φ ${errs.phi.toExponential(2)}`);
        assert.ok(errs.logits < 1e-4 && errs.phi < 1e-4, JSON.stringify(errs));
      } finally {
        await session.release();
      }
    });
  }

  it('counts parameters without BatchNorm buffers, as torch does (sum of p.numel())', () => {
    // resnet18 at width 64 with 1000 classes: torchvision's published 11,689,512.
    assert.equal(
      studentParameterCount(resnetFamily, { arch: 'resnet18', width: 64, inChannels: 3, numClasses: 1000 }),
      11_689_512,
    );
    assert.equal(
      studentParameterCount(resnetFamily, { arch: 'resnet50', width: 64, inChannels: 3, numClasses: 1000 }),
      25_557_032,
    );
  });
});
