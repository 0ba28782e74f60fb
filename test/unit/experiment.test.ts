/**
 * Data-driven experiment-file validation: every file in fixtures/experiments/valid must load
 * without errors; every file in fixtures/experiments/invalid must produce exactly the problems
 * listed in its `.expected` file (`line:col [warning] field: message prefix`, one per line).
 * The methods' needs (methodNeeds.ts) are also checked against the engine code they repeat.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { schemaText, SCHEMA_FILE } from '../../scripts/gen-schema';
import { FT_VALIDATION_FRACTION, ftMinRows, tuneSplit } from '../../core/node/experiment/methodNeeds';
import { experimentSchema } from '../../core/node/experiment/schema';
import { semanticProblems } from '../../core/node/experiment/semantics';
import { validateExperimentText } from '../../core/node/experiment/validate';
import { trainFactorAutoencoder } from '../../sidecar/src/methods/factorAutoencoder';
import { logme } from '../../sidecar/src/methods/logme';
import { initBackend } from '../../sidecar/src/runtime/tf';
import { TEMPLATES } from '../../core/node/experiment/templates';
import { tuneTrainSize } from '../../sidecar/src/train/plan';
import { AftError } from '../../core/common/util/errors';
import { Rng } from '../../sidecar/src/util/rng';

const root = path.join(__dirname, '..', 'fixtures', 'experiments');

function check(file: string): { text: string; problems: ReturnType<typeof validateExperimentText>['problems'] } {
  const text = fs.readFileSync(file, 'utf8');
  return { text, problems: validateExperimentText(text, path.dirname(file)).problems };
}

function assertValid(file: string): void {
  const { problems } = check(file);
  assert.deepEqual(
    problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`),
    [],
  );
  assert.ok(validateExperimentText(fs.readFileSync(file, 'utf8'), path.dirname(file)).experiment);
}

describe('valid experiment files', () => {
  for (const name of fs.readdirSync(path.join(root, 'valid'))) {
    it(name, () => assertValid(path.join(root, 'valid', name)));
  }

  it('the templates are the committed fixtures', () => {
    for (const t of TEMPLATES) assert.equal(fs.readFileSync(path.join(root, 'valid', t.fileName), 'utf8'), t.text);
  });
});

// The examples the README points users at, checked as the editor checks them. Only the top
// level: examples/mnist-captions/ names data that its make.ts writes first.
describe('shipped examples', () => {
  const examples = path.join(__dirname, '..', '..', 'examples');
  for (const name of fs.readdirSync(examples).filter((f) => f.endsWith('.aft.yaml'))) {
    it(name, () => assertValid(path.join(examples, name)));
  }
});

describe('invalid experiment files', () => {
  for (const name of fs.readdirSync(path.join(root, 'invalid')).filter((f) => f.endsWith('.aft.yaml'))) {
    it(name, () => {
      const file = path.join(root, 'invalid', name);
      const expected = fs
        .readFileSync(file.replace(/\.aft\.yaml$/, '.expected'), 'utf8')
        .split('\n')
        .filter((l) => l.trim());
      const { problems } = check(file);
      const got = problems.map(
        (p) => `${p.line}:${p.column} ${p.severity === 'warning' ? 'warning ' : ''}${p.field}: ${p.message}`,
      );
      assert.equal(got.length, expected.length, `expected ${expected.length} problems, got:\n${got.join('\n')}`);
      for (const want of expected) {
        assert.ok(
          got.some((g) => g.startsWith(want)),
          `missing problem: ${want}\ngot:\n${got.join('\n')}`,
        );
      }
    });
  }
});

describe('generated JSON Schema', () => {
  it('schemas/aft-experiment.schema.json is up to date (run `npm run gen:schema`)', () => {
    assert.equal(fs.readFileSync(SCHEMA_FILE, 'utf8'), schemaText());
  });

  it('describes every property (hover documentation)', () => {
    const missing: string[] = [];
    const walk = (s: unknown, at: string): void => {
      if (!s || typeof s !== 'object') return;
      const o = s as Record<string, unknown>;
      for (const [k, v] of Object.entries((o.properties as Record<string, Record<string, unknown>>) ?? {})) {
        if (!v.description && !(v.anyOf || v.oneOf)) missing.push(`${at}.${k}`);
        walk(v, `${at}.${k}`);
      }
      for (const key of ['items', 'additionalProperties']) walk(o[key], `${at}[]`);
      for (const key of ['anyOf', 'oneOf']) for (const b of (o[key] as unknown[]) ?? []) walk(b, at);
    };
    walk(JSON.parse(schemaText()), '');
    assert.deepEqual(missing, []);
  });
});

describe('method needs match the engine code they repeat', () => {
  before(async () => {
    await initBackend('cpu');
  });
  const badInput = (e: unknown): boolean => e instanceof AftError && e.code === 'bad_input';
  const noise = (n: number, seed = 1): Float32Array => {
    const rng = new Rng(seed);
    return Float32Array.from({ length: n }, () => rng.normal());
  };

  it("tuneSplit is the engine's β holdout split", () => {
    for (const holdout of [0.05, 0.1, 0.25, 0.5, 0.9]) {
      for (let n = 1; n <= 300; n++)
        assert.deepEqual(tuneSplit(n, holdout), tuneTrainSize(n, holdout), `n ${n}, holdout ${holdout}`);
    }
  });

  it('factor transfer: the fewest rows, the validation share and the narrowest ψ of its autoencoder', async () => {
    const fit = (rows: number, dim: number): ReturnType<typeof trainFactorAutoencoder> =>
      trainFactorAutoencoder(noise(rows * dim), rows, dim, { seed: 0, maxEpochs: 1 });
    const min = ftMinRows();
    await assert.rejects(fit(min - 1, 4), badInput);
    (await fit(min, 4)).dispose();
    const ae = await fit(57, 4);
    assert.equal(ae.validationRows.length, Math.round(57 * FT_VALIDATION_FRACTION));
    ae.dispose();
    await assert.rejects(fit(8, 1), badInput);
    (await fit(8, 2)).dispose();
  });

  it('B-Tuning: LogME takes 2 classes or more, and an example of each', () => {
    const k = 3;
    const labels = Int32Array.from({ length: k }, (_, i) => i);
    assert.ok(Number.isFinite(logme(noise(k * 4), labels, k, 4, { numClasses: k }).score));
    assert.throws(() => logme(noise((k - 1) * 4), labels.subarray(0, k - 1), k - 1, 4, { numClasses: k }), badInput);
    assert.throws(() => logme(noise(5 * 4), new Int32Array(5), 5, 4, { numClasses: 1 }), badInput);
  });

  it('the number of training examples a problem asks for is enough', () => {
    const needs = (text: string): string[] =>
      semanticProblems(experimentSchema.parse(JSON.parse(text)))
        .filter((p) => /factor transfer|B-Tuning/.test(p.message))
        .map((p) => p.message);
    for (const holdout of [0.1, 0.3, 0.5]) {
      for (const [train, methods] of [
        [1, ['ft']],
        [2, ['ft']],
        [4, ['btune']],
        [10, ['btune']],
        [3, [{ name: 'b', method: 'btune' }]],
      ] as const) {
        const exp = (n: number): string =>
          JSON.stringify({
            name: 'x',
            dataset: { source: 'mnist', train: n },
            pretrained: [{ name: 'n', noise: 4 }],
            methods,
            tune: { holdout },
            train: { batch: 1 },
          });
        const [first] = needs(exp(train));
        const asked = Number(/Use at least (\d+) training examples/.exec(first ?? '')?.[1]);
        assert.ok(asked > train, `${train} examples, holdout ${holdout}: ${first}`);
        assert.deepEqual(needs(exp(asked)), [], `${asked} examples, holdout ${holdout}`);
        assert.ok(needs(exp(asked - 1)).length, `${asked - 1} examples, holdout ${holdout}: not the fewest`);
      }
    }
  });
});
