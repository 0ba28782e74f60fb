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
import { ADAPTERS, compareGolden, goldenLabel, type GoldenCase } from '../../sidecar/src/methods/golden';

const dir = path.resolve(process.env.AFT_GOLDEN_DIR ?? path.join(__dirname, 'cases'));

const files = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

for (const backend of TEST_BACKENDS)
  describe(`golden regularisers (${dir}, backend ${backend})`, () => {
    // Started by the suite's first case; a backend that does not start fails every case with why.
    let started: Promise<unknown> | undefined;
    const start = (): Promise<unknown> => (started ??= startTestBackend(backend));

    it('finds golden cases', () => {
      assert.ok(files.length > 0, `no golden cases found in ${dir} (set AFT_GOLDEN_DIR)`);
    });

    for (const file of files) {
      const c = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as GoldenCase;
      const adapter = ADAPTERS[c.method];
      const label = goldenLabel(file, c);
      if (!adapter) {
        it(`${label}: NOT IMPLEMENTED`, (t) => {
          t.todo(`method '${c.method}' is not implemented yet`);
        });
        continue;
      }
      it(label, async (t) => {
        await start();
        const { errors, failures } = compareGolden(c, await adapter(c));
        assert.deepEqual(failures, []);
        t.diagnostic(
          `${backend} ${file}: relative errors ${Object.entries(errors)
            .map(([k, e]) => `${k} ${e.toExponential(2)}`)
            .join(', ')}`,
        );
      });
    }
  });
