/**
 * The experiment-file language server. It takes its connection as a parameter, so the
 * process entry (`server.ts`) passes IPC and the tests pass two in-memory streams.
 */
import {
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Analyses, type Analysis } from './analysis';
import { codeActions } from './codeActions';
import { codeLenses } from './codeLens';
import { complete } from './completion';
import { Debouncer } from './debouncer';
import { diagnose } from './diagnostics';
import { CachedFiles, type EditorFiles } from './fileCache';
import { hover } from './hover';
import { documentSymbols } from './symbols';

export interface ServerOptions {
  /** Quiet time after the last change before diagnostics run (ms). */
  debounceMs?: number;
  files?: EditorFiles;
}

export class ExperimentServer {
  private readonly documents = new TextDocuments(TextDocument);
  private readonly analyses = new Analyses();
  private readonly debouncer = new Debouncer();
  /** The version whose diagnostics were last published, per document. */
  private readonly published = new Map<string, number>();
  private readonly debounceMs: number;
  readonly files: EditorFiles;

  constructor(
    private readonly connection: Connection,
    options: ServerOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 200;
    this.files = options.files ?? new CachedFiles();
  }

  listen(): void {
    const c = this.connection;
    c.onInitialize((): InitializeResult => ({
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: [':', ' ', '/', '-', '['] },
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        codeLensProvider: { resolveProvider: false },
        documentSymbolProvider: true,
      },
      serverInfo: { name: 'aft-experiment-language-server' },
    }));
    this.documents.onDidChangeContent(({ document }) => {
      // The first version is checked at once; edits wait for a pause in typing, longer for
      // big files, so a burst of keystrokes costs one check.
      if (!this.published.has(document.uri)) return this.publish(document.uri);
      this.debouncer.schedule(document.uri, this.debounceMs + document.getText().length / 4000, () =>
        this.publish(document.uri),
      );
    });
    this.documents.onDidClose(({ document }) => {
      this.debouncer.cancel(document.uri);
      this.analyses.delete(document.uri);
      this.published.delete(document.uri);
      this.send({ uri: document.uri, diagnostics: [] });
    });
    // A referenced .npy/.safetensors file changed on disk (the client watches them).
    c.onDidChangeWatchedFiles(() => this.documents.all().forEach((d) => this.publish(d.uri)));
    c.onHover((p) => this.with(p.textDocument.uri, null, (doc, a) => hover(doc, a, doc.offsetAt(p.position))));
    c.onCompletion((p) =>
      this.with(p.textDocument.uri, [], (doc, a) => complete(doc, a, doc.offsetAt(p.position), this.files)),
    );
    c.onCodeAction((p) => this.with(p.textDocument.uri, [], (doc, a) => codeActions(doc, a, p.context.diagnostics)));
    c.onCodeLens((p) => this.with(p.textDocument.uri, [], codeLenses));
    c.onDocumentSymbol((p) => this.with(p.textDocument.uri, [], documentSymbols));
    c.onShutdown(() => this.debouncer.dispose());
    this.documents.listen(c);
    c.listen();
  }

  private publish(uri: string): void {
    const doc = this.documents.get(uri);
    if (!doc) return;
    const diagnostics = this.guarded(uri, [], () => diagnose(this.analyses.get(doc), this.files));
    this.published.set(uri, doc.version);
    this.send({ uri, version: doc.version, diagnostics });
  }

  /** Publishes diagnostics; a client that has gone away is not the server's failure. */
  private send(params: PublishDiagnosticsParams): void {
    try {
      this.connection.sendDiagnostics(params).catch(() => undefined);
    } catch {
      // The connection is closed or disposed: nobody is listening any more.
    }
  }

  /** Runs a feature on the current analysis of a document; a failure is logged, never fatal. */
  private with<T>(uri: string, fallback: T, f: (doc: TextDocument, a: Analysis) => T): T {
    const doc = this.documents.get(uri);
    return doc ? this.guarded(uri, fallback, () => f(doc, this.analyses.get(doc))) : fallback;
  }

  private guarded<T>(uri: string, fallback: T, f: () => T): T {
    try {
      return f();
    } catch (e) {
      this.connection.console.error(`${uri}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return fallback;
    }
  }
}
