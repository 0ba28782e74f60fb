/**
 * The ResNet-18 row of `npm run bench:train`: a full-size resnet18 (random weights, written
 * once as a timm hub folder in the OS temp folder) fine-tuned at batch 32 on 64x64 inputs, as a
 * `model: pretrained` student, with STL and with AFT (ψ: 512 noise features). The PyTorch
 * reference at the same thread count is scripts/bench/pytorch_resnet.py (run by hand).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downstreamSchema, type DownstreamSpec } from '../../../core/node/experiment/schema';
import type { ResolvedMethod } from '../../../core/node/experiment/methods';
import { encodeSafetensors, type StTensor } from '../../../core/node/io/safetensors';
import { createModel } from '../models/model';
import { resnetStateShapes, type ResNetShape } from '../models/resnet';
import { crossEntropy } from '../methods/regularizers';
import { tf } from '../runtime/tf';
import { Rng } from '../util/rng';
import { msPerStep, randomImageData } from './steps';
import { writeFileAtomic } from '../../../core/node/util/fsx';

export const RESNET_BENCH = { batch: 32, size: 64, classes: 10, examples: 64, psiWidth: 512 };

/**
 * torchvision's ResNet-18 state dict (timm's key names are the same), He-initialised, as a timm
 * hub folder (config.json + model.safetensors): what a `model: pretrained` student is given.
 * Written once per machine in the OS temp folder (45 MB); the bench and the GPU check share it.
 */
export function resnet18Folder(): string {
  const dir = path.join(os.tmpdir(), 'aft-bench-resnet18');
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  const shape: ResNetShape = { arch: 'resnet18', width: 64, inChannels: 3, numClasses: 1000 };
  const rng = new Rng(0);
  const state: Record<string, StTensor> = {};
  for (const e of resnetStateShapes(shape)) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (e.role === 'conv') {
      const std = Math.sqrt(2 / (e.shape[0] * e.shape[2] * e.shape[3]));
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    } else if (e.role === 'bn.weight' || e.role === 'bn.running_var') data.fill(1);
    else if (e.role === 'fc.weight') for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) / Math.sqrt(512);
    state[e.key] = { shape: e.shape, data, ...(e.role === 'bn.num_batches_tracked' ? { dtype: 'I64' as const } : {}) };
  }
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    architecture: 'resnet18',
    num_classes: 1000,
    num_features: 512,
    global_pool: 'avg',
    pretrained_cfg: {
      input_size: [3, 224, 224],
      crop_pct: 0.875,
      interpolation: 'bilinear',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      num_classes: 1000,
      first_conv: 'conv1',
      classifier: 'fc',
    },
  };
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileAtomic(path.join(dir, 'model.safetensors'), encodeSafetensors(state, { format: 'pt' }));
  return dir;
}

export interface ResNetBench {
  stl_ms: number;
  aft_ms: number;
  ratio: number;
  batch: number;
  size: number;
  /** Peak bytes of tfjs tensors in one STL training step, the model's weights included (tf.profile). */
  step_tensor_peak_mb: number;
  /** Peak resident memory of this process so far (the wasm heap included). */
  peak_rss_mb: number;
}

export async function benchResNet(methods: Record<'stl' | 'aft', ResolvedMethod>, steps: number): Promise<ResNetBench> {
  const { batch, size, classes, examples, psiWidth } = RESNET_BENCH;
  const spec: DownstreamSpec = downstreamSchema.parse({ model: 'pretrained', folder: resnet18Folder() });
  const inputShape = [size, size, 3];
  const data = randomImageData(inputShape, examples, batch, psiWidth);
  const { x, y } = data.train;
  // No warm-up job: the timed job's first steps (kernels and XNNPACK operators created) are not counted.
  const ms = (method: ResolvedMethod): Promise<number> => msPerStep(spec, method, data, batch, steps, 0);
  const stl = await ms(methods.stl);
  const aft = await ms(methods.aft);
  // One STL step under tf.profile for the tensors' peak.
  const before = tf.memory().numBytes;
  const model = createModel(spec, inputShape, classes, 0);
  const params = [...model.params.values()];
  const info = await tf.profile(async () => {
    const grads = tf.tidy(() => {
      const xb = tf.tensor(x.subarray(0, batch * size * size * 3), [batch, ...inputShape]);
      const yb = tf.tensor1d(Array.from(y.subarray(0, batch)), 'int32');
      return Object.values(tf.variableGrads(() => crossEntropy(model.forward(xb, 'train').logits, yb), params).grads);
    });
    // Read (as training does, asynchronously), so that every kernel has run before the peak is taken.
    for (const g of grads) await g.data();
    tf.dispose(grads);
  });
  model.dispose();
  return {
    stl_ms: +stl.toFixed(1),
    aft_ms: +aft.toFixed(1),
    ratio: +(aft / stl).toFixed(3),
    batch,
    size,
    step_tensor_peak_mb: Math.round((info.peakBytes - before) / 2 ** 20),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
