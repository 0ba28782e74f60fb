/**
 * Golden test: every case in test/golden/cases (AFT_GOLDEN_DIR overrides the folder) is
 * recomputed in float32 with the product's regularisers and compared with its expected values,
 * float64 PyTorch values of the paper's formulas made by make_cases.py (see README.md here):
 * 1e-4 relative on scalars, 1e-3 relative on gradients and weights (relative to the largest
 * entry of that array, with a floor for entries that are exactly zero in theory, such as a bias
 * that centring cancels).
 *
 * It runs on every backend in AFT_TEST_BACKENDS (default cpu,wasm,webgpu; see
 * test/helpers/backends.ts): a listed backend that does not start fails its cases with the
 * reason. Each case reports its worst relative errors as a diagnostic.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { startTestBackend, TEST_BACKENDS } from '../helpers/backends';
import { ADAPTERS, type GoldenCase } from './adapters';

const dir = path.resolve(process.env.AFT_GOLDEN_DIR ?? path.join(__dirname, 'cases'));

function flatten(v: unknown): number[] {
  return Array.isArray(v) ? (v as unknown[]).flatMap(flatten) : [v as number];
}

/** Asserts the worst relative error is within `rtol`, and answers it. */
function compareArray(name: string, got: Float64Array, want: number[], rtol: number): number {
  assert.equal(got.length, want.length, `${name}: ${got.length} values, expected ${want.length}`);
  const scale = Math.max(...want.map(Math.abs));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    // Entries are compared relative to the gradient's own scale; a gradient that is zero in
    // theory (scale ~1e-17) is compared against an absolute floor of float32 round-off.
    const err = Math.abs(got[i] - want[i]) / Math.max(scale, 1e-4);
    if (err > worst) {
      worst = err;
      worstAt = i;
    }
  }
  assert.ok(worst <= rtol, `${name}: relative error ${worst.toExponential(2)} at index ${worstAt} (got ${got[worstAt]}, expected ${want[worstAt]}) exceeds ${rtol}`);
  return worst;
}

const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

for (const backend of TEST_BACKENDS) describe(`golden regularisers (${dir}, backend ${backend})`, () => {
  // Started by the suite's first case; a backend that does not start fails every case with why.
  let started: Promise<unknown> | undefined;
  const start = (): Promise<unknown> => (started ??= startTestBackend(backend));

  it('finds golden cases', () => {
    assert.ok(files.length > 0, `no golden cases found in ${dir} (set AFT_GOLDEN_DIR)`);
  });

  for (const file of files) {
    const c = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as GoldenCase;
    const adapter = ADAPTERS[c.method];
    const label = `${file} (${c.method}${c.kernel ? `, kernel ${c.kernel}` : ''}${c.rho ? `, rho ${c.rho}` : ''})`;
    if (!adapter) {
      it(`${label}: NOT IMPLEMENTED`, (t) => {
        t.todo(`method '${c.method}' is not implemented yet`);
      });
      continue;
    }
    it(label, async (t) => {
      await start();
      const r = await adapter(c);
      const errors: string[] = [];
      for (const key of ['loss', 'score'] as const) {
        const want = c.expected[key];
        if (want === undefined) continue;
        const got = r.values[key];
        assert.ok(got !== undefined, `${key} not computed`);
        const rel = Math.abs(got - want) / Math.max(Math.abs(want), 1e-12);
        assert.ok(rel <= 1e-4, `${key}: got ${got}, expected ${want} (relative error ${rel.toExponential(2)})`);
        errors.push(`${key} ${rel.toExponential(2)}`);
      }
      for (const [name, want] of Object.entries(c.expected.grad ?? {})) {
        const got = r.arrays[`grad.${name}`];
        assert.ok(got, `gradient of ${name} not computed`);
        errors.push(`grad.${name} ${compareArray(`grad.${name}`, got, flatten(want), 1e-3).toExponential(2)}`);
      }
      if (c.expected.weights !== undefined) {
        const got = r.arrays.weights;
        assert.ok(got, 'weights not computed');
        errors.push(`weights ${compareArray('weights', got, flatten(c.expected.weights), 1e-3).toExponential(2)}`);
      }
      t.diagnostic(`${backend} ${file}: relative errors ${errors.join(', ')}`);
    });
  }
});
