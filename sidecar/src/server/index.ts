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
  log: (m) => process.stderr.write(`${m}\n`),
});
const connection = createMessageConnection(reader, writer);
const server = new SidecarServer(connection);
process.on('uncaughtException', (e) => {
  process.stderr.write(`uncaught exception: ${e.stack ?? String(e)}\n`);
  void server.crash(e).finally(() => process.exit(1));
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
});
// The extension went away (stdin closed): cancel runs so that their stores say so, then exit.
connection.onClose(() => {
  void server.close().finally(() => process.exit(0));
});
server.listen();
process.stderr.write(`aft sidecar ${process.pid} listening on stdio\n`);
