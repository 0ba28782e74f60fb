/**
 * Starts the experiment-file language server (dist/language-server/server.js) in its own Node
 * process over IPC, for documents of the `aft-experiment` language. A crashed server is
 * restarted by vscode-languageclient's default error handler (up to 4 times in 3 minutes, then
 * it stops and says so); the server logs why it died before it exits.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';

export const LANGUAGE_ID = 'aft-experiment';

/**
 * The files diagnostics depend on: referenced arrays and ONNX models, and a pretrained student
 * folder's config.json, weights, shard index, tokenizer and pickles (a pickle is refused by name).
 */
const WATCHED = '**/{*.npy,*.safetensors,*.onnx,config.json,tokenizer.json,*.index.json,*.bin,*.pt,*.pth}';

export async function startLanguageClient(context: vscode.ExtensionContext): Promise<LanguageClient> {
  const module = context.asAbsolutePath(path.join('dist', 'language-server', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6012'] } },
  };
  const clientOptions: LanguageClientOptions = {
    // Only `aft-experiment` documents: the YAML extension gets the same schema through
    // `yamlValidation` for files in the `yaml` language, so no document is checked twice.
    documentSelector: [
      { scheme: 'file', language: LANGUAGE_ID },
      { scheme: 'untitled', language: LANGUAGE_ID },
    ],
    // Diagnostics depend on the headers of referenced files: re-check when they change.
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher(WATCHED) },
    connectionOptions: { maxRestartCount: 4 },
    middleware: {
      // The server names the document by its URI string; the extension's run commands take
      // a vscode.Uri, as they do when invoked from the explorer.
      provideCodeLenses: async (document, token, next) => {
        const lenses = await next(document, token);
        for (const lens of lenses ?? []) {
          const args = lens.command?.arguments;
          if (args && typeof args[0] === 'string') args[0] = vscode.Uri.parse(args[0]);
        }
        return lenses;
      },
    },
  };
  const client = new LanguageClient('aftExperiment', 'AFT Experiment Files', serverOptions, clientOptions);
  context.subscriptions.push(client);
  await client.start();
  return client;
}
