/**
 * Data-driven experiment-file validation: every file in fixtures/experiments/valid must load
 * without errors; every file in fixtures/experiments/invalid must produce exactly the problems
 * listed in its `.expected` file (`line:col [warning] field: message prefix`, one per line).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { schemaText, SCHEMA_FILE } from '../../scripts/gen-schema';
import { validateExperimentText } from '../../sidecar/src/experiment/validate';
import { MNIST_DEMO } from '../../sidecar/src/templates/templates';

const root = path.join(__dirname, '..', 'fixtures', 'experiments');

function check(file: string): { text: string; problems: ReturnType<typeof validateExperimentText>['problems'] } {
  const text = fs.readFileSync(file, 'utf8');
  return { text, problems: validateExperimentText(text, path.dirname(file)).problems };
}

describe('valid experiment files', () => {
  for (const name of fs.readdirSync(path.join(root, 'valid'))) {
    it(name, () => {
      const file = path.join(root, 'valid', name);
      const { problems } = check(file);
      assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`), []);
      assert.ok(validateExperimentText(fs.readFileSync(file, 'utf8'), path.dirname(file)).experiment);
    });
  }

  it('the demo template is the committed fixture', () => {
    assert.equal(fs.readFileSync(path.join(root, 'valid', 'mnist-demo.aft.yaml'), 'utf8'), MNIST_DEMO.text);
  });
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
      const got = problems.map((p) => `${p.line}:${p.column} ${p.severity === 'warning' ? 'warning ' : ''}${p.field}: ${p.message}`);
      assert.equal(got.length, expected.length, `expected ${expected.length} problems, got:\n${got.join('\n')}`);
      for (const want of expected) {
        assert.ok(got.some((g) => g.startsWith(want)), `missing problem: ${want}\ngot:\n${got.join('\n')}`);
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
