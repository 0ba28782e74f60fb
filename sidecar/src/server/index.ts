/** Entry point of the sidecar process spawned by the extension: JSON-RPC over stdio. */
import { createMessageConnection, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { BoundedMessageReader } from './reader';
import { SidecarServer } from './server';

// stdout carries the protocol: anything else a library prints must go to stderr.
console.log = console.error;
console.info = console.error;
console.warn = console.error;

// Blocking writes to the pipe: Node writes a child's stdout pipe asynchronously, 64 KiB (the pipe's
// buffer) per turn of the event loop, and a training job holds the loop for up to 100 ms between
// yields (train/job.ts). A 1 MB answer (aft/listRuns of 1,000 runs) then took ~2 s to leave while
// two runs trained (npm run bench:runs), instead of ~50 ms. The extension reads the pipe at once.
(process.stdout as unknown as { _handle?: { setBlocking?(blocking: boolean): void } })._handle?.setBlocking?.(true);
const writer = new StreamMessageWriter(process.stdout);
// Bounded frames; malformed ones are answered (-32700, -32600) instead of dropped (reader.ts).
const reader = new BoundedMessageReader(process.stdin, {
  reply: (m) => void writer.write(m).catch(() => undefined),
  log: logToStderr,
});
const connection = createMessageConnection(reader, writer);
const server = new SidecarServer(connection);
/** stderr, which may be a closed pipe once the extension has gone (a throw here would end the process). */
function logToStderr(message: string): void {
  try {
    process.stderr.write(`${message}\n`);
  } catch {
    // nobody is listening
  }
}
process.on('uncaughtException', (e) => {
  logToStderr(`uncaught exception: ${e.stack ?? String(e)}`);
  void server.crash(e).finally(() => process.exit(1));
});
process.on('unhandledRejection', (e) => {
  logToStderr(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
});
// Once the extension has gone, stdout and stderr may be closed pipes: a write then fails (EPIPE),
// which must not end the runs that train on.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
// The extension went away (stdin closed): runs train on to their end (server.close), then exit.
connection.onClose(() => {
  void server.close().finally(() => process.exit(0));
});
server.listen();
logToStderr(`aft sidecar ${process.pid} listening on stdio`);
