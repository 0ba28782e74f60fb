/**
 * The two-tower student: φ is the tensor product of its towers' features (a hand computation),
 * the loss's gradient reaches every parameter of both towers, checkpoints round-trip, and it
 * refuses inputs that are not paired rows.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../core/node/experiment/schema';
import { encodeSafetensors } from '../../core/node/io/safetensors';
import { AftError } from '../../core/common/util/errors';
import type { PairedLayout } from '../../sidecar/src/data/dataset';
import { loadCheckpoint } from '../../sidecar/src/models/checkpoint';
import { createModel, modelWeights } from '../../sidecar/src/models/model';
import { tensorProduct } from '../../sidecar/src/models/twoTower';
import { crossEntropy } from '../../sidecar/src/methods/regularizers';
import { initBackend, tf } from '../../sidecar/src/runtime/tf';
import { readTidy } from '../../sidecar/src/train/evaluate';

const close = (got: ArrayLike<number>, want: number[], tol = 1e-6): void => {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `[${i}] ${got[i]} vs ${want[i]} (all: ${Array.from(got).join(', ')})`);
};

describe('two-tower model', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  it('tensorProduct is vec(a ⊗ b) per row, a index outer', async () => {
    const got = await readTidy(() =>
      tensorProduct(
        tf.tensor2d([
          [1, 2],
          [-1, 0.5],
        ]),
        tf.tensor2d([
          [3, 4, 5],
          [2, 0, -2],
        ]),
      ),
    );
    close(got, [3, 4, 5, 6, 8, 10, -2, 0, 2, 1, 0, -1]);
  });

  it('φ matches a hand computation: (x W + b) ⊗ (text bias)', async () => {
    // Image 1×2 grey pixels, mlp tower with no hidden layer: φ_img = x W + b (linear), 2 wide.
    // The text tower's last layer has zero weights, so φ_txt = its bias whatever the tokens.
    const layout: PairedLayout = { image: [1, 2, 1], tokens: 3 };
    const spec = downstreamSchema.parse({
      model: 'two-tower',
      image: { model: 'mlp', hidden: [] },
      text: { layers: 1, width: 4, heads: 2 },
      features: [2, 3],
    });
    const model = createModel(spec, [5], 2, 0, { vocabSize: 6, paired: layout });
    try {
      const set = (name: string, values: number[]): void => {
        const v = model.params.get(name)!;
        v.assign(tf.tensor(values, v.shape));
      };
      set('image.fc0.w', [1, 0, 0, -1]); // [[1, 0], [0, -1]]: [x0, −x1]
      set('image.fc0.b', [0.1, -0.5]);
      set('text.fc0.w', new Array<number>(4 * 3).fill(0));
      set('text.fc0.b', [1, -2, 3]);
      // Row 1: x = [0.5, −0.25] → φ_img = [0.6, −0.25]; row 2: [−1, −1] → [−0.9, 0.5].
      const x = tf.tensor2d([
        [0.5, -0.25, 2, 4, -1],
        [-1, -1, 5, -1, -1],
      ]);
      const phi = await readTidy(() => model.forward(x).phi);
      const txt = [1, -2, 3];
      close(
        phi,
        [0.6, -0.25, -0.9, 0.5].flatMap((a) => txt.map((t) => a * t)),
      );
      assert.equal(model.featureDim, 6);
    } finally {
      model.dispose();
    }
  });

  it('the loss gradient reaches every parameter of both towers and the head', async () => {
    const layout: PairedLayout = { image: [4, 4, 3], tokens: 5 };
    const spec = downstreamSchema.parse({
      model: 'two-tower',
      image: { model: 'cnn', channels: [4], hidden: [8] },
      text: { layers: 1, width: 8, heads: 2, hidden: [8] },
      features: [4, 4],
    });
    const model = createModel(spec, [48 + 5], 3, 1, { vocabSize: 10, paired: layout });
    try {
      const n = 6;
      const rows: number[] = [];
      for (let r = 0; r < n; r++) {
        for (let k = 0; k < 48; k++) rows.push((((r * 48 + k) * 37) % 101) / 101);
        rows.push(2, 3 + (r % 5), 4 + r, r % 2 ? -1 : 7, -1);
      }
      const x = tf.tensor2d(rows, [n, 53]);
      const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
      const vars = [...model.params.values()];
      const { grads } = tf.variableGrads(() => crossEntropy(model.forward(x, 'train').logits, y), vars);
      const names = [...model.params.keys()];
      assert.ok(names.some((k) => k.startsWith('image.')) && names.some((k) => k.startsWith('text.')));
      for (const name of names) {
        const g = grads[name] ?? grads[model.params.get(name)!.name];
        assert.ok(g, `no gradient for ${name}`);
        const norm = (await g.abs().sum().data())[0];
        assert.ok(norm > 0, `zero gradient for ${name}`);
      }
      tf.dispose(grads);
    } finally {
      model.dispose();
    }
  });

  it('round-trips its safetensors checkpoint (image.*, text.*, head.* keys)', async () => {
    const layout: PairedLayout = { image: [4, 4, 1], tokens: 4 };
    const spec = downstreamSchema.parse({ model: 'two-tower', features: [2, 2] });
    const a = createModel(spec, [20], 2, 1, { vocabSize: 8, paired: layout });
    const b = createModel(spec, [20], 2, 2, { vocabSize: 8, paired: layout });
    try {
      const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-2t-')), 'a.safetensors');
      const weights = await modelWeights(a);
      assert.ok(
        Object.keys(weights).every((k) => /^(image|text|head)\./.test(k)),
        Object.keys(weights).join(', '),
      );
      fs.writeFileSync(f, encodeSafetensors(weights));
      loadCheckpoint(b, f);
      assert.deepEqual(await modelWeights(b), weights);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('refuses a dataset that is not paired', () => {
    const spec = downstreamSchema.parse({ model: 'two-tower' });
    assert.throws(
      () => createModel(spec, [28, 28, 1], 10, 0),
      (e: unknown) => e instanceof AftError && /needs|reads image \+ text rows from a `paired` dataset/.test(e.message),
    );
  });
});
