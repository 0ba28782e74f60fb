/**
 * The language server in-process, spoken to over two in-memory streams with real LSP messages
 * (the pattern of vscode-dvc's setup-test-connections.ts).
 */
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver';
import { createConnection } from 'vscode-languageserver/node';
import { ExperimentServer, type ServerOptions } from '../../language-server/src/experimentServer';

export const LANGUAGE_ID = 'aft-experiment';

export function fileUri(file: string): string {
  return pathToFileURL(file).toString();
}

export class LspClient {
  private readonly latest = new Map<string, PublishDiagnosticsParams>();
  private waiters: { uri: string; version: number; resolve: (d: Diagnostic[]) => void }[] = [];
  /** Every publishDiagnostics the server sent, in order. */
  readonly published: PublishDiagnosticsParams[] = [];
  private readonly versions = new Map<string, number>();

  private constructor(
    readonly rpc: MessageConnection,
    readonly server: ExperimentServer,
    private readonly streams: PassThrough[],
  ) {
    rpc.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.published.push(p);
      this.latest.set(p.uri, p);
      const ready = this.waiters.filter((w) => w.uri === p.uri && (p.version ?? 0) >= w.version);
      this.waiters = this.waiters.filter((w) => !ready.includes(w));
      for (const w of ready) w.resolve(p.diagnostics);
    });
  }

  static async start(options: ServerOptions = { debounceMs: 0 }): Promise<LspClient> {
    const up = new PassThrough();
    const down = new PassThrough();
    const serverConnection = createConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
    const server = new ExperimentServer(serverConnection, options);
    server.listen();
    const rpc = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
    rpc.listen();
    const client = new LspClient(rpc, server, [up, down]);
    await rpc.sendRequest('initialize', { processId: null, rootUri: null, capabilities: {} });
    await rpc.sendNotification('initialized', {});
    return client;
  }

  /** Opens a document and resolves with its first diagnostics. */
  async open(uri: string, text: string): Promise<Diagnostic[]> {
    this.versions.set(uri, 1);
    const d = this.diagnostics(uri, 1);
    await this.rpc.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: LANGUAGE_ID, version: 1, text },
    });
    return d;
  }

  /** Replaces a document's text; resolves with the diagnostics of that version. */
  async change(uri: string, text: string): Promise<Diagnostic[]> {
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    const d = this.diagnostics(uri, version);
    await this.rpc.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
    return d;
  }

  async close(uri: string): Promise<void> {
    await this.rpc.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  diagnostics(uri: string, version: number): Promise<Diagnostic[]> {
    return new Promise((resolve) => this.waiters.push({ uri, version, resolve }));
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.rpc.sendRequest(method, params);
  }

  dispose(): void {
    this.rpc.dispose();
    for (const s of this.streams) s.destroy();
  }
}

/** A diagnostic as the fixtures' `.expected` files write it: 1-based `line:col-line:col severity message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const { start, end } = d.range;
  const severity = d.severity === 2 ? 'warning' : d.severity === 1 ? 'error' : `severity${d.severity}`;
  const message = typeof d.message === 'string' ? d.message : d.message.value;
  return `${start.line + 1}:${start.character + 1}-${end.line + 1}:${end.character + 1} ${severity} ${message}`;
}
