/**
 * Data-driven diagnostics: every file in fixtures/lsp/valid gets none; every file in
 * fixtures/lsp/invalid gets exactly the diagnostics in its `.expected` file, one per line as
 * `line:col-line:col severity message-prefix` (1-based, as an editor shows them); `…` stands
 * for any text (absolute paths, the full list of allowed values), `#` starts a comment line.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileUri, formatDiagnostic, LspClient } from './harness';

const root = path.join(__dirname, '..', 'fixtures', 'lsp');
function matches(got: string, want: string): boolean {
  const pattern = want
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}`).test(got);
}

const cases = (dir: string): string[] => fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.aft.yaml'));

describe('diagnostics over LSP', () => {
  let client: LspClient;
  before(async () => {
    client = await LspClient.start();
  });
  after(() => client.dispose());

  for (const name of cases('valid')) {
    it(`valid/${name}: no diagnostics`, async () => {
      const file = path.join(root, 'valid', name);
      const got = await client.open(fileUri(file), fs.readFileSync(file, 'utf8'));
      assert.deepEqual(got.map(formatDiagnostic), []);
    });
  }

  for (const name of cases('invalid')) {
    it(`invalid/${name}`, async () => {
      const file = path.join(root, 'invalid', name);
      const expected = fs
        .readFileSync(file.replace(/\.aft\.yaml$/, '.expected'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith('#'));
      const got = (await client.open(fileUri(file), fs.readFileSync(file, 'utf8'))).map(formatDiagnostic);
      assert.equal(new Set(got).size, got.length, `a diagnostic was published twice:\n${got.join('\n')}`);
      for (const want of expected)
        assert.ok(
          got.some((g) => matches(g, want)),
          `missing: ${want}\ngot:\n${got.join('\n')}`,
        );
      assert.equal(got.length, expected.length, `expected ${expected.length} diagnostics, got:\n${got.join('\n')}`);
    });
  }
});
