/**
 * Entry of a run process. The sidecar forks one per run (runChild.ts) so that training never
 * holds the sidecar's event loop: requests (aft/listRuns, a cancel, a validation) are answered
 * while runs train, each run has a thread of its own for its JavaScript, and a run that crashes
 * ends only itself. The process trains exactly what the sidecar loaded and checked, reports
 * every event, and ends when the run does.
 */
import { markAbandonedRun } from '../../../core/node/runs/abandoned';
import { RPC_ORIGIN } from '../../../core/node/experiment/overrides';
import { AftError } from '../../../core/common/util/errors';
import type { RunEvent } from '../../../core/common/protocol/events';
import { runExperiment } from '../train/run';
import { runStudy } from '../study/runStudy';
import type { FromRunProcess, RunRequest, SentError, ToRunProcess } from './runProcessProtocol';

// Nothing a library prints may reach the sidecar's stdout (its protocol) through ours.
console.log = console.error;
console.info = console.error;
console.warn = console.error;
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

const controller = new AbortController();
/** Read now: once the sidecar has died this process belongs to init. */
const sidecarPid = process.ppid;
/** The folder of the run in progress (a study's runs follow one another). */
let runDir: string | undefined;
let started = false;
let finished = false;

function send(m: FromRunProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) resolve();
    else process.send(m, undefined, {}, () => resolve());
  });
}

function sentError(e: unknown): SentError {
  if (e instanceof AftError)
    return {
      kind: 'aft',
      code: e.code,
      message: e.message,
      ...(e.location ? { location: e.location } : {}),
      ...(e.details ? { details: e.details } : {}),
    };
  return e instanceof Error
    ? { kind: 'other', message: e.message, stack: e.stack }
    : { kind: 'other', message: String(e) };
}

async function run(req: RunRequest): Promise<void> {
  const input = { experiment: req.experiment, baseDir: req.baseDir, sourceText: req.sourceText };
  const options = {
    workspaceDir: req.workspaceDir,
    ...req.overrides,
    origin: RPC_ORIGIN,
    signal: controller.signal,
    sink: (event: RunEvent) => {
      if (event.type === 'status' && event.state === 'running') runDir = event.runDir;
      void send({ type: 'event', event });
    },
  };
  let last: FromRunProcess = { type: 'done' };
  try {
    await (req.study
      ? runStudy({ ...input, file: req.file, study: req.study }, { ...options, newStudy: req.newStudy })
      : runExperiment(input, options));
  } catch (e) {
    last = { type: 'error', error: sentError(e) };
  }
  finished = true;
  // Once the last message has left. Exiting rather than waiting for the event loop to empty: the
  // wasm backend's threads and onnxruntime's sessions would keep the process alive.
  await send(last);
  process.exit(0);
}

process.on('message', (m: ToRunProcess) => {
  if (m.type === 'cancel') controller.abort();
  else if (!started) {
    started = true;
    void run(m);
  }
});

// The sidecar ended without stopping this run (killed, crashed): nobody would see it train, so it
// ends here, its store saying why (it is the only writer of its folder, and nothing runs between
// this handler and the exit).
process.on('disconnect', () => {
  if (finished) return;
  if (runDir)
    try {
      markAbandonedRun(
        runDir,
        process.pid,
        `the sidecar that ran it (pid ${sidecarPid}) ended without stopping it (killed or crashed)`,
      );
    } catch {
      // the reader's liveness check still shows it failed once this process is gone
    }
  process.exit(1);
});
