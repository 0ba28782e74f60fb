/**
 * The text encoder: its hand-written gradients (batched products, embedding scatter-add) agree
 * with finite differences, padding does not change an example's output, and it learns a toy task.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { downstreamSchema } from '../../core/node/experiment/schema';
import { crossEntropy } from '../../sidecar/src/methods/regularizers';
import { createModel } from '../../sidecar/src/models/model';
import { readTidy } from '../../sidecar/src/train/evaluate';
import { initBackend, tf, type Scalar } from '../../sidecar/src/runtime/tf';

const spec = downstreamSchema.parse({ model: 'transformer', layers: 2, width: 8, heads: 2, hidden: [6] });
const L = 6;
const V = 12;
// Two sequences, the second padded after three tokens.
const ids = [1, 4, 7, 2, 9, 3, 5, 11, 0, -1, -1, -1];

describe('transformer encoder', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  it('gradients match finite differences for every kind of parameter', async () => {
    const model = createModel(spec, [L], 3, 0, { vocabSize: V });
    const x = tf.tensor(ids, [2, L]);
    const y = tf.tensor1d([2, 0], 'int32');
    const loss = (): Scalar => crossEntropy(model.forward(x).logits, y);
    const vars = [...model.params.values()];
    const grads = tf.tidy(() => tf.variableGrads(loss, vars).grads);
    const names = [...model.params.keys()];
    // Entries of the token table that are used (token 4, token 5) and unused (token 10), attention, MLP and norms.
    const probes: [string, number][] = [
      ['embed.tokens', 4 * 8 + 1],
      ['embed.tokens', 5 * 8 + 3],
      ['embed.tokens', 10 * 8],
      ['embed.positions', 9],
      ['block0.attn.qkv.w', 17],
      ['block1.attn.out.w', 30],
      ['block0.ff1.w', 5],
      ['block1.ln2.g', 2],
      ['final.ln.b', 7],
      ['fc0.w', 3],
    ];
    for (const [name, idx] of probes) {
      const v = model.params.get(name)!;
      const analytic = (await grads[v.name].data())[idx];
      const values = (await v.data()).slice();
      const h = 3e-4;
      const at = async (delta: number): Promise<number> => {
        const w = values.slice();
        w[idx] += delta;
        v.assign(tf.tensor(w, v.shape));
        return (await readTidy(loss))[0];
      };
      const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
      v.assign(tf.tensor(values, v.shape));
      assert.ok(
        Math.abs(analytic - numeric) < 2e-3 + 0.05 * Math.abs(numeric),
        `${name}[${idx}]: analytic ${analytic} vs numeric ${numeric}`,
      );
      if (name === 'embed.tokens' && idx === 10 * 8) assert.equal(analytic, 0, 'an unused token gets no gradient');
    }
    assert.ok(names.includes('head.w') && names.includes('block1.attn.qkv.b'));
    tf.dispose(Object.values(grads));
    model.dispose();
  });

  it('ignores padding: an example gives the same output alone and padded further', async () => {
    const model = createModel(spec, [L], 3, 1, { vocabSize: V });
    const a = await readTidy(() => model.forward(tf.tensor([5, 11, 0, -1, -1, -1], [1, L])).logits);
    const b = (await readTidy(() => model.forward(tf.tensor(ids, [2, L])).logits)).slice(3);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5);
    model.dispose();
  });

  it('learns which tokens signal each class', async () => {
    const model = createModel(
      downstreamSchema.parse({ model: 'transformer', layers: 1, width: 16, heads: 2, hidden: [8] }),
      [8],
      2,
      0,
      { vocabSize: 30 },
    );
    const n = 32;
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < n; i++) {
      const cls = i % 2;
      const len = 3 + (i % 5);
      for (let j = 0; j < 8; j++) xs.push(j < len ? (cls ? 1 : 15) + ((i + 3 * j) % 12) : -1);
      ys.push(cls);
    }
    const x = tf.tensor(xs, [n, 8]);
    const y = tf.tensor1d(ys, 'int32');
    const opt = tf.train.adam(1e-2);
    for (let s = 0; s < 25; s++) {
      tf.tidy(() => {
        opt.minimize(() => crossEntropy(model.forward(x).logits, y), false, [...model.params.values()]);
      });
    }
    const acc = (
      await readTidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.forward(x).logits, 1), y), 'float32')))
    )[0];
    assert.ok(acc >= 0.95, `accuracy ${acc}`);
    opt.dispose();
    model.dispose();
  });
});
