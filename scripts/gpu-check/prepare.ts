// Writes the artifacts for the CUDA check (docs/gpu-check.md) into a folder to carry to a GPU
// machine: ONNX models made by the project's exporter (downstream MLP and CNN, a DINOv2-S-cost
// CNN, the ViT- and BERT-like test models), inputs as .npy, and the outputs onnxruntime-node
// gives on this machine's CPU, which check_cuda.py compares the CUDA provider against.
// Run: npx tsx scripts/gpu-check/prepare.ts [OUT_DIR]   (default: gpu-check-artifacts)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportDownstream } from '../../sidecar/src/export/downstream';
import { encodeNpy } from '../../core/node/io/npy';
import type { StTensor } from '../../core/node/io/safetensors';
import { OnnxSession, type OnnxTensor } from '../../sidecar/src/runtime/onnx';
import { Rng } from '../../sidecar/src/util/rng';
import { convNetOnnx, heWeight } from '../../sidecar/src/bench/onnxModels';
import { tinyBertOnnx, tinyVitOnnx, VOCAB } from '../../test/helpers/hf';

const out = path.resolve(process.argv[2] ?? 'gpu-check-artifacts');
const rng = new Rng(11);
const normal = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * std);
const w = (shape: number[], fanIn: number): StTensor => heWeight(rng, shape, fanIn);

const cnn = (side: number, channels: number[], hidden: number): Uint8Array => convNetOnnx(side, channels, hidden, rng);

const models: { name: string; bytes: Uint8Array; feeds: Record<string, OnnxTensor> }[] = [
  {
    name: 'mlp-teacher-like',
    bytes: exportDownstream(
      {
        'fc0.w': w([784, 512], 784),
        'fc0.b': w([512], 1),
        'fc1.w': w([512, 256], 512),
        'fc1.b': w([256], 1),
        'head.w': w([256, 10], 256),
        'head.b': w([10], 1),
      },
      { kind: 'mlp', inputShape: [28, 28, 1], channels: [], hidden: [512, 256], numClasses: 10 },
    ),
    feeds: {
      input: {
        type: 'float32',
        data: Float32Array.from({ length: 64 * 784 }, () => rng.next()),
        dims: [64, 28, 28, 1],
      },
    },
  },
  {
    name: 'cnn-small',
    bytes: cnn(32, [16, 32], 64),
    feeds: { input: { type: 'float32', data: normal(64 * 32 * 32 * 3, 1), dims: [64, 32, 32, 3] } },
  },
  {
    name: 'cnn-dinov2s-cost',
    bytes: cnn(224, [64, 128, 256, 256], 16),
    feeds: { input: { type: 'float32', data: normal(16 * 224 * 224 * 3, 1), dims: [16, 224, 224, 3] } },
  },
  {
    name: 'tiny-vit',
    bytes: tinyVitOnnx(),
    feeds: { pixel_values: { type: 'float32', data: normal(16 * 3 * 16 * 16, 1), dims: [16, 3, 16, 16] } },
  },
  {
    name: 'tiny-bert',
    bytes: tinyBertOnnx(),
    feeds: {
      input_ids: {
        type: 'int64',
        data: BigInt64Array.from({ length: 16 * 12 }, () => BigInt(rng.int(VOCAB.length))),
        dims: [16, 12],
      },
      attention_mask: {
        type: 'int64',
        data: BigInt64Array.from({ length: 16 * 12 }, (_, i) => (i % 12 < 4 + (Math.floor(i / 12) % 8) ? 1n : 0n)),
        dims: [16, 12],
      },
    },
  },
];

void (async () => {
  fs.mkdirSync(out, { recursive: true });
  const manifest: unknown[] = [];
  for (const m of models) {
    const dir = path.join(out, m.name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'model.onnx'), m.bytes);
    const s = await OnnxSession.open(path.join(dir, 'model.onnx'), { device: 'cpu' });
    const res = await s.run(m.feeds);
    await s.release();
    for (const [k, t] of Object.entries(m.feeds)) {
      const data = t.data instanceof BigInt64Array ? Int32Array.from(t.data, Number) : (t.data as Float32Array);
      fs.writeFileSync(path.join(dir, `input.${k}.npy`), encodeNpy(data, t.dims));
    }
    for (const [k, t] of Object.entries(res))
      fs.writeFileSync(path.join(dir, `expected.${k}.npy`), encodeNpy(t.data, t.dims));
    manifest.push({
      name: m.name,
      inputs: Object.keys(m.feeds),
      int64: Object.entries(m.feeds)
        .filter(([, t]) => t.type === 'int64')
        .map(([k]) => k),
      outputs: Object.keys(res),
    });
  }
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.copyFileSync(path.join(__dirname, 'check_cuda.py'), path.join(out, 'check_cuda.py'));
  console.log(`wrote ${out}; on the GPU machine: python3 check_cuda.py`);
})();
