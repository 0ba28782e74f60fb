/**
 * A tiny array task and a "pre-trained" model for tests of extraction and export: x_<split>.npy
 * (rows of 8 normal numbers) and y_<split>.npy (alternating 0/1 labels) in `dataDir`, and a random
 * 8-16-2 MLP exported to ONNX as `<ws>/model.onnx` (its `features` output is 16 wide). Seeded: the
 * same call writes the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeNpy } from '../../core/node/io/npy';
import { exportDownstream } from '../../sidecar/src/export/downstream';
import { Rng } from '../../sidecar/src/util/rng';

export function writeArrayWorkspace(ws: string, rows: { train: number; test: number }, dataDir = ws): void {
  const rng = new Rng(1);
  fs.mkdirSync(dataDir, { recursive: true });
  for (const split of ['train', 'test'] as const) {
    const n = rows[split];
    fs.writeFileSync(
      path.join(dataDir, `x_${split}.npy`),
      encodeNpy(
        Float32Array.from({ length: n * 8 }, () => rng.normal()),
        [n, 8],
      ),
    );
    fs.writeFileSync(
      path.join(dataDir, `y_${split}.npy`),
      encodeNpy(
        Int32Array.from({ length: n }, (_, i) => i % 2),
        [n],
      ),
    );
  }
  const w = (shape: number[]): { shape: number[]; data: Float32Array } => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.3),
  });
  fs.writeFileSync(
    path.join(ws, 'model.onnx'),
    exportDownstream(
      { 'fc0.w': w([8, 16]), 'fc0.b': w([16]), 'head.w': w([16, 2]), 'head.b': w([2]) },
      { kind: 'mlp', inputShape: [8], channels: [], hidden: [16], numClasses: 2 },
    ),
  );
}
