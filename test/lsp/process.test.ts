/**
 * The bundled server (scripts/build-language-server.mjs) as the extension starts it: a Node
 * process spoken to over IPC, which checks a document and exits on the LSP `exit` notification.
 */
import assert from 'node:assert/strict';
import { fork, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { it } from 'node:test';
import type { PublishDiagnosticsParams } from 'vscode-languageserver';

const root = path.join(__dirname, '..', '..');

it('the bundle runs over IPC, reports diagnostics and exits when told', async () => {
  const build = spawnSync(process.execPath, ['scripts/build-language-server.mjs'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const child = fork(path.join(root, 'dist', 'language-server', 'server.js'), ['--node-ipc'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const send = (m: object): boolean => child.send({ jsonrpc: '2.0', ...m });
  const diagnostics = new Promise<PublishDiagnosticsParams>((resolve) =>
    child.on('message', (m: { id?: number; method?: string; params?: PublishDiagnosticsParams }) => {
      if (m.id === 1) {
        send({ method: 'initialized', params: {} });
        send({
          method: 'textDocument/didOpen',
          params: {
            textDocument: {
              uri: 'untitled:x',
              languageId: 'aft-experiment',
              version: 1,
              text: 'name: x\nmethods: [aftt]\n',
            },
          },
        });
      }
      if (m.method === 'textDocument/publishDiagnostics' && m.params) resolve(m.params);
    }),
  );
  send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: null, capabilities: {} } });
  const d = await diagnostics;
  const messages = d.diagnostics.map((x) => x.message as string).sort();
  assert.equal(messages.length, 2, messages.join('\n'));
  assert.match(messages[0], /^dataset: missing required field/);
  assert.match(messages[1], /^methods\[0\]: expected one of .*found "aftt" \(did you mean `aft`\?\)/);
  send({ id: 2, method: 'shutdown' });
  send({ method: 'exit' });
  assert.equal(await exited, 0);
});
