/** Debounced checks, closing, and re-checks when a referenced array file changes on disk. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeNpy } from '../../core/node/io/npy';
import { CachedFiles } from '../../language-server/src/fileCache';
import { fileUri, LspClient } from './harness';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-lsp-life-'));
const data = path.join(__dirname, '..', 'fixtures', 'data');
const GOOD = 'name: ok\ndataset: { source: mnist }\nmethods: [stl]\n';

describe('document lifecycle', () => {
  it('a burst of edits is checked once, for the last version', async () => {
    const client = await LspClient.start({ debounceMs: 50 });
    try {
      const uri = fileUri(path.join(dir, 'burst.aft.yaml'));
      await client.open(uri, GOOD);
      const before = client.published.length;
      let last: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < 5; i++)
        last = client.change(uri, GOOD.replace('ok', `v${i}`) + (i === 4 ? 'bogus: 1\n' : ''));
      const d = (await last) as { message: string }[];
      assert.equal(client.published.length - before, 1, 'one publish for five edits');
      assert.equal(client.published.at(-1)?.version, 6);
      assert.match(d[0].message, /unknown key `bogus`/);
    } finally {
      client.dispose();
    }
  });

  it('closing a document clears its diagnostics', async () => {
    const client = await LspClient.start();
    try {
      const uri = fileUri(path.join(dir, 'closed.aft.yaml'));
      assert.equal((await client.open(uri, 'name: x\n')).length, 2);
      const cleared = new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          const p = client.published.at(-1);
          if (p?.uri === uri && p.diagnostics.length === 0) resolve(clearInterval(poll));
        }, 5);
      });
      await client.close(uri);
      await cleared;
    } finally {
      client.dispose();
    }
  });

  it('re-checks when a referenced file changes, reading its header only when it changed', async () => {
    const files = new CachedFiles();
    const client = await LspClient.start({ debounceMs: 0, files });
    try {
      const features = path.join(dir, 'f_test.npy');
      fs.writeFileSync(features, encodeNpy(new Float32Array(40 * 6), [40, 6]));
      const uri = fileUri(path.join(dir, 'watched.aft.yaml'));
      const text = [
        'name: watched',
        'dataset:',
        '  source: npy',
        `  train: { inputs: ${data}/x_train.npy, labels: ${data}/y_train.npy }`,
        `  test: { inputs: ${data}/x_test.npy, labels: ${data}/y_test.npy }`,
        'pretrained:',
        `  - { name: f, features: { train: ${data}/f_train.npy, test: f_test.npy } }`,
        'methods: [stl, aft]',
        'train: { batch: 16 }',
      ].join('\n');
      const first = await client.open(uri, text);
      assert.deepEqual(
        first.map((d) => d.message),
        ['pretrained[0].features.test: has 40 rows but the test split has 48 examples'],
      );
      const reads = files.reads;
      await client.change(uri, text + '\n# an edit that touches no file\n');
      assert.equal(files.reads, reads, 'unchanged files are not read again');

      fs.writeFileSync(features, encodeNpy(new Float32Array(48 * 6), [48, 6]));
      const next = client.diagnostics(uri, 2);
      await client.rpc.sendNotification('workspace/didChangeWatchedFiles', {
        changes: [{ uri: fileUri(features), type: 2 }],
      });
      assert.deepEqual(await next.then(() => client.published.at(-1)?.diagnostics), []);
      assert.equal(files.reads, reads + 1, 'only the changed file is read again');
    } finally {
      client.dispose();
    }
  });
});
