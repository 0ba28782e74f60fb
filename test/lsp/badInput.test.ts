/**
 * Input the server must survive: binary junk, a 10 MB file, deep nesting, exponential aliases,
 * thousands of keys. Each gets a diagnostic within a bounded time, and the server goes on
 * answering afterwards.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CodeLens, CompletionItem, Diagnostic, DocumentSymbol, Hover } from 'vscode-languageserver';
import { fileUri, LspClient } from './harness';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-lsp-bad-'));
let n = 0;
const uri = (): string => fileUri(path.join(dir, `bad${n++}.aft.yaml`));

describe('bad input', () => {
  let client: LspClient;
  before(async () => {
    client = await LspClient.start();
  });
  after(() => client.dispose());

  /** Opens a document, checks its diagnostics arrive in time, then that every feature still answers. */
  async function survive(text: string, withinMs: number): Promise<Diagnostic[]> {
    const u = uri();
    const t0 = performance.now();
    const diagnostics = await client.open(u, text);
    const ms = performance.now() - t0;
    assert.ok(ms < withinMs, `diagnostics took ${ms.toFixed(0)} ms (limit ${withinMs})`);
    const at = { textDocument: { uri: u }, position: { line: 0, character: 1 } };
    await client.request<Hover | null>('textDocument/hover', at);
    await client.request<CompletionItem[]>('textDocument/completion', at);
    await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri: u } });
    await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: u } });
    const healthy = await client.open(uri(), 'name: ok\ndataset: { source: mnist }\nmethods: [stl]\n');
    assert.deepEqual(healthy, [], 'the server still checks other files');
    await client.close(u);
    return diagnostics;
  }

  it('binary junk: one diagnostic saying so', async () => {
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const d = await survive(bytes.toString('utf8'), 2000);
    assert.equal(d.length, 1);
    assert.match(d[0].message as string, /binary file/);
  });

  it('a 10 MB file: one diagnostic, no parse', async () => {
    const big = 'name: big\n' + '# padding padding padding padding padding padding padding padding\n'.repeat(160_000);
    const d = await survive(big, 2000);
    assert.equal(d.length, 1);
    assert.match(d[0].message as string, /this file is 10\.\d MB; experiment files over 1\.0 MB are not checked/);
  });

  it('deeply nested flow collections', async () => {
    const d = await survive(`name: deep\nmethods: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, 2000);
    assert.equal(d.length, 1);
    assert.match(d[0].message as string, /nested more than 64 deep/);
    assert.deepEqual(d[0].range.start, { line: 1, character: 9 + 64 });
  });

  it('deeply nested block mappings', async () => {
    const lines = Array.from({ length: 600 }, (_, i) => `${' '.repeat(i)}k${i}:`);
    const d = await survive(lines.join('\n'), 2000);
    assert.equal(d.length, 1);
    assert.match(d[0].message as string, /more than 512 columns deep/);
  });

  it('aliases that expand exponentially', async () => {
    const levels = Array.from(
      { length: 30 },
      (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(', ')}]`,
    );
    const d = await survive(
      [
        'name: laughs',
        'l0: &l0 [x, x, x, x, x, x, x, x, x]',
        ...levels,
        'methods: [stl]',
        'dataset: { source: mnist }',
      ].join('\n'),
      2000,
    );
    assert.equal(d.length, 1);
    assert.match(d[0].message as string, /Excessive alias count/);
  });

  it('thousands of unknown keys: capped diagnostics, no quadratic parse', async () => {
    const keys = Array.from({ length: 8000 }, (_, i) => `k${i}: [1, 2, {a: b}]`).join('\n');
    const d = await survive(`name: many\ndataset: { source: mnist }\nmethods: [stl]\n${keys}\n`, 8000);
    assert.equal(d.length, 100);
    assert.match(d[99].message as string, /more problems not shown/);
  });
});

describe('server robustness', () => {
  it('a failing check becomes a diagnostic, and the server keeps serving', async () => {
    const client = await LspClient.start({
      debounceMs: 0,
      files: {
        exists: () => {
          throw new TypeError('disk on fire');
        },
        kind: () => {
          throw new TypeError('disk on fire');
        },
        arrays: () => ({ format: 'npy', arrays: [] }),
        onnx: () => ({ inputs: [], outputs: [] }),
        studentFolder: () => {
          throw new TypeError('disk on fire');
        },
      },
    });
    try {
      const d = await client.open(
        uri(),
        'name: x\ndataset: { source: npy, train: { inputs: a.npy, labels: b.npy }, test: { inputs: a.npy, labels: b.npy } }\nmethods: [stl]\n',
      );
      assert.deepEqual(
        d.map((x) => x.message),
        ['could not check this file: disk on fire'],
      );
      assert.deepEqual(await client.open(uri(), 'name: ok\ndataset: { source: mnist }\nmethods: [stl]\n'), []);
    } finally {
      client.dispose();
    }
  });
});
