/**
 * Runs the grammar tests in this folder (`*.aft.yaml`, assertions in comments under each line)
 * with vscode-tmgrammar-test, which tokenizes them with VS Code's own TextMate engine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { experimentJsonSchema, METHOD_KINDS } from '../../core/node/experiment/schema';

const root = path.join(__dirname, '..', '..');
const tool = path.join(path.dirname(require.resolve('vscode-tmgrammar-test/package.json')), 'dist', 'unit.js');

it('syntaxes/aft-experiment.tmLanguage.json passes test/grammar/*.aft.yaml', () => {
  const cases = fs.readdirSync(__dirname).filter((f) => f.endsWith('.aft.yaml'));
  assert.ok(cases.length > 0);
  const r = spawnSync(
    process.execPath,
    [tool, '--compact', '-g', 'syntaxes/aft-experiment.tmLanguage.json', 'test/grammar/*.aft.yaml'],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  for (const c of cases) assert.match(r.stdout, new RegExp(`${c.replace(/\./g, '\\.')} run successfuly`));
});

/** The words the grammar singles out, as listed in one of its rules: `(a|b|c)`. */
function words(rule: string): string[] {
  const grammar = JSON.parse(
    fs.readFileSync(path.join(root, 'syntaxes', 'aft-experiment.tmLanguage.json'), 'utf8'),
  ) as { repository: Record<string, { match: string }> };
  const m = /\(((?:[a-z-]+\|)+[a-z-]+)\)/.exec(grammar.repository[rule].match);
  return (m?.[1] ?? '').split('|').sort();
}

it('highlights exactly the method kinds, source kinds and dataset sources of the schema', () => {
  const schema = experimentJsonSchema() as {
    properties: {
      pretrained: { items: { anyOf: { properties: Record<string, unknown> }[] } };
      dataset: { oneOf: { properties: { source: { const: string } } }[] };
    };
  };
  assert.deepEqual(words('method'), [...METHOD_KINDS].sort());
  const kinds = schema.properties.pretrained.items.anyOf.flatMap((b) =>
    Object.keys(b.properties).filter((k) => k !== 'name'),
  );
  assert.deepEqual(words('source-kind-key'), kinds.sort());
  assert.deepEqual(
    words('dataset-source'),
    schema.properties.dataset.oneOf.map((b) => b.properties.source.const).sort(),
  );
});
