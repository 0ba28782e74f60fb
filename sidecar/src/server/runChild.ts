/**
 * The sidecar's side of a run process (runProcess.ts): forks it, hands it the checked run, and
 * turns its messages back into run events and an outcome. A run process that dies without
 * saying how its run ended (killed, out of memory) fails its run: the store says so and a
 * status event tells the client.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent, StatusEvent } from '../../../core/common/protocol/events';
import { AftError, CancelledError } from '../../../core/common/util/errors';
import { markAbandonedRun } from '../../../core/node/runs/abandoned';
import type { FromRunProcess, RunRequest, SentError, ToRunProcess } from './runProcessProtocol';

export interface RunProcess {
  /** Resolves when the run ends as it should; rejects with its error (CancelledError when stopped). */
  outcome: Promise<void>;
  cancel(): void;
}

/** The bundled entry next to this bundle (scripts/build.mjs), else the source through tsx (tests). */
function forkRunProcess(): ChildProcess {
  const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc'];
  const bundle = path.join(__dirname, 'run-process.js');
  if (fs.existsSync(bundle)) return fork(bundle, [], { stdio, serialization: 'advanced' });
  return fork(path.join(__dirname, 'runProcess.ts'), [], {
    stdio,
    serialization: 'advanced',
    execArgv: ['--require', require.resolve('tsx/cjs')],
  });
}

function receivedError(e: SentError): Error {
  if (e.kind === 'other') return Object.assign(new Error(e.message), e.stack ? { stack: e.stack } : {});
  if (e.code === 'cancelled') return new CancelledError();
  return new AftError(e.code, e.message, e.location, e.details);
}

/**
 * Starts `req` in a run process. `sink` gets its events; `output` its stdout and stderr (the
 * sidecar's own stdout carries the protocol, so nothing of a run process may reach it).
 */
export function startRunProcess(
  req: RunRequest,
  sink: (e: RunEvent) => void,
  output: (text: string) => void,
): RunProcess {
  const child = forkRunProcess();
  child.stdout?.on('data', (d: Buffer) => output(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output(d.toString()));
  /** The running status of the run in progress (a study's runs follow one another). */
  let current: StatusEvent | undefined;
  let ended: FromRunProcess | undefined;
  const outcome = new Promise<void>((resolve, reject) => {
    child.on('message', (m: FromRunProcess) => {
      if (m.type === 'event') {
        const e = m.event;
        if (e.type === 'status') current = e.state === 'running' ? e : undefined;
        sink(e);
      } else {
        // The run has ended: its slot is free from here, not from the exit a moment later.
        ended = m;
        if (m.type === 'done') resolve();
        else reject(receivedError(m.error));
      }
    });
    // The process could not be started (or signalled): no exit may follow, so the run ends here.
    child.on('error', (e) => {
      if (ended) return;
      ended = { type: 'error', error: { kind: 'other', message: `could not start the run process: ${e.message}` } };
      reject(new AftError('run_failed', ended.error.message));
    });
    child.on('exit', (code, signal) => {
      if (ended) return;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const message = `the process training it (pid ${child.pid}) ${how} before the run ended${signal === 'SIGKILL' ? '; out of memory is the usual cause' : ''}`;
      if (current) {
        try {
          if (child.pid !== undefined) markAbandonedRun(current.runDir, child.pid, message);
        } catch (e) {
          output(`could not mark ${current.runDir} failed: ${(e as Error).message}\n`);
        }
        sink({ ...current, state: 'failed', message });
      }
      reject(new AftError('run_failed', message));
    });
  });
  const post = (m: ToRunProcess): void => {
    if (child.connected) child.send(m, (e) => e && output(`could not reach the run process: ${e.message}\n`));
  };
  post(req);
  return { outcome, cancel: () => post({ type: 'cancel' }) };
}
