/** Entry point of the sidecar process spawned by the extension: JSON-RPC over stdio. */
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { SidecarServer } from './server';

const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
const server = new SidecarServer(connection);
// stdout carries the protocol: anything else a library prints must go to stderr.
console.log = console.error;
console.info = console.error;
console.warn = console.error;
process.on('uncaughtException', (e) => {
  void server.crash(e).finally(() => process.exit(1));
});
connection.onClose(() => process.exit(0));
server.listen();
