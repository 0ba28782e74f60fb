/**
 * The JSON-RPC front end over the engine, for the VS Code extension. It owns one connection
 * (passed in, so tests can use their own streams) and runs one experiment at a time; the
 * extension queues further runs. Errors cross as `{code, message, data: ErrorData}`.
 */
import * as fs from 'node:fs';
import { ResponseError, type MessageConnection } from 'vscode-jsonrpc';
import { loadExperiment } from '../experiment/load';
import {
  CancelRun,
  Initialize,
  ListRuns,
  PROTOCOL_VERSION,
  RunEventNotification,
  Shutdown,
  StartRun,
  type BackendProbe,
  type ErrorData,
  type RunInfo,
} from '../protocol/rpc';
import type { RunEvent } from '../protocol/events';
import { listRuns, readSummary } from '../runs/store';
import { BACKENDS, initBackend } from '../runtime/tf';
import { runExperiment } from '../train/run';
import { AftError, CancelledError, describeError } from '../util/errors';

export const SIDECAR_VERSION = '0.1.0';

function toResponseError(e: unknown): ResponseError<ErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<ErrorData>;
  if (e instanceof AftError) {
    return new ResponseError<ErrorData>(e.code === 'bad_input' ? 2 : 1, e.format(), {
      kind: e.code,
      ...(e.location ? { location: e.location } : {}),
      ...(e.details ? { details: e.details } : {}),
    });
  }
  return new ResponseError<ErrorData>(1, describeError(e), { kind: 'internal' });
}

interface ActiveRun {
  runId: string;
  runDir: string;
  controller: AbortController;
  done: Promise<void>;
}

export class SidecarServer {
  private active: ActiveRun | undefined;

  constructor(
    private readonly connection: MessageConnection,
    private readonly onExit: (code: number) => void = (code) => process.exit(code),
  ) {}

  private send(e: RunEvent): void {
    void this.connection.sendNotification(RunEventNotification, e);
  }

  listen(): void {
    const c = this.connection;
    c.onRequest(Initialize, async () => {
      const backends: BackendProbe[] = [];
      let defaultBackend: string | null = null;
      for (const b of BACKENDS) {
        try {
          // Probing registers the backend; it starts only when a run asks for it.
          if (b.id !== 'cpu') require.resolve(b.id === 'gpu' ? '@tensorflow/tfjs-node-gpu' : b.id === 'native' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-backend-wasm');
          backends.push({ id: b.id, description: b.description, available: true });
          defaultBackend ??= b.id;
        } catch (e) {
          backends.push({ id: b.id, description: b.description, available: false, reason: (e as Error).message.split('\n')[0]! });
        }
      }
      await Promise.resolve();
      return { protocolVersion: PROTOCOL_VERSION, sidecarVersion: SIDECAR_VERSION, node: process.version, platform: `${process.platform}-${process.arch}`, backends, defaultBackend };
    });

    c.onRequest(StartRun, async (params) => {
      if (this.active) {
        throw new ResponseError<ErrorData>(3, `a run is already in progress (${this.active.runId}); stop it or wait for it to finish`, { kind: 'busy' });
      }
      try {
        const loaded = loadExperiment(params.file);
        const controller = new AbortController();
        let resolveStarted!: (v: { runId: string; runDir: string }) => void;
        let rejectStarted!: (e: unknown) => void;
        const started = new Promise<{ runId: string; runDir: string }>((res, rej) => {
          resolveStarted = res;
          rejectStarted = rej;
        });
        const done = runExperiment(
          { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: fs.readFileSync(loaded.file, 'utf8') },
          {
            workspaceDir: params.workspaceDir,
            ...(params.backend ? { backend: params.backend } : {}),
            ...(params.seeds ? { seeds: params.seeds } : {}),
            ...(params.steps ? { steps: params.steps } : {}),
            ...(params.methods ? { methods: params.methods } : {}),
            signal: controller.signal,
            sink: (e) => {
              if (e.type === 'status' && e.state === 'running') {
                this.active = { runId: e.runId, runDir: e.runDir, controller, done: done.then(() => undefined, () => undefined) };
                resolveStarted({ runId: e.runId, runDir: e.runDir });
              }
              this.send(e);
            },
          },
        ).then(
          () => undefined,
          (e: unknown) => {
            rejectStarted(e);
            if (!(e instanceof CancelledError)) this.send({ type: 'log', level: 'error', message: describeError(e), timestamp: Date.now() });
          },
        );
        void done.finally(() => {
          this.active = undefined;
        });
        return await started;
      } catch (e) {
        throw toResponseError(e);
      }
    });

    c.onRequest(CancelRun, ({ runId }) => {
      if (!this.active || this.active.runId !== runId) return { cancelled: false };
      this.active.controller.abort();
      return { cancelled: true };
    });

    c.onRequest(ListRuns, ({ workspaceDir }): RunInfo[] =>
      listRuns(workspaceDir).map(({ dir, status }) => {
        const summary = status.state === 'completed' ? readSummary(dir) : undefined;
        return {
          runId: status.runId,
          runDir: dir,
          experiment: status.experiment,
          state: status.state,
          started: status.started,
          ...(status.message ? { message: status.message } : {}),
          ...(status.progress ? { progress: status.progress } : {}),
          ...(summary ? { summary } : {}),
        };
      }),
    );

    c.onRequest(Shutdown, async () => {
      if (this.active) {
        this.active.controller.abort();
        await this.active.done;
      }
      setImmediate(() => this.onExit(0));
    });

    c.listen();
  }

  /** Called on an uncaught error: stop the run (its store marks it failed) and report. */
  async crash(e: unknown): Promise<void> {
    this.send({ type: 'log', level: 'error', message: `sidecar crashed: ${describeError(e)}`, timestamp: Date.now() });
    if (this.active) {
      this.active.controller.abort();
      await Promise.race([this.active.done, new Promise((r) => setTimeout(r, 2000))]);
    }
  }
}

/** Warms the backend a run would use, so the first run does not pay for it. */
export async function warmBackend(): Promise<void> {
  await initBackend('auto');
}
