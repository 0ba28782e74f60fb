// The language server process, started by the extension's language client over IPC.
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { ExperimentServer } from './experimentServer';

const connection = createConnection(ProposedFeatures.all);
// Say why before dying; the client then restarts the server (a few times, then it gives up).
process.on('uncaughtException', (e) => {
  connection.console.error(`aft language server crashed: ${e.stack ?? e.message}`);
  process.exit(1);
});
new ExperimentServer(connection).listen();
