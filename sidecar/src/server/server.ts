/**
 * The JSON-RPC front end over the engine, for the VS Code extension. It owns one connection
 * (passed in, so tests can use their own streams). Errors cross as `{code, message, data:
 * ErrorData}`; run events go out as `aft/event` notifications, the same events as `aft --json`.
 */
import { ResponseError, type MessageConnection } from 'vscode-jsonrpc';
import * as path from 'node:path';
import { resolveMethods } from '../../../core/node/experiment/methods';
import { checkExperimentFile } from '../experiment/load';
import { memoryJson } from '../memory/report';
import type { RunEvent } from '../../../core/common/protocol/events';
import {
  CancelRun,
  ExportModel,
  ExtractFeatures,
  Initialize,
  ListRunChanges,
  ListRuns,
  PROTOCOL_VERSION,
  RunEventNotification,
  Shutdown,
  StartRun,
  Validate,
  type ErrorData,
  type InitializeParams,
  type ValidateResult,
} from '../../../core/common/protocol/rpc';
import { RunListingJournal } from '../../../core/node/runs/listingJournal';
import { requestStop, runInfos } from '../../../core/node/runs/store';
import { AftError, badInput, describeError, ERROR_CODES } from '../../../core/common/util/errors';
import { packageVersions, probeBackends, probeDevices } from './probe';
import { RunManager } from './runs';
import { Tasks } from './tasks';

export const SIDECAR_VERSION = '0.1.0';

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

function toResponseError(e: unknown): ResponseError<ErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<ErrorData>;
  if (e instanceof AftError) {
    return new ResponseError<ErrorData>(ERROR_CODES[e.code].rpc, e.format(), {
      kind: e.code,
      ...(e.location ? { location: e.location } : {}),
      ...(e.details ? { details: e.details } : {}),
    });
  }
  return new ResponseError<ErrorData>(ERROR_CODES.internal.rpc, describeError(e), { kind: 'internal' });
}

/** Longer than any path a file system takes: refused before it is echoed in a message. */
export const MAX_PATH_CHARS = 4096;

/** A required non-empty string parameter, or bad input naming it. */
function stringParam<K extends string>(
  params: Partial<Record<K, unknown>> | null | undefined,
  key: K,
  method: string,
): string {
  const v = params?.[key];
  if (typeof v !== 'string' || !v)
    throw badInput(`expected a non-empty string, found ${JSON.stringify(v)?.slice(0, 80) ?? 'nothing'}`, {
      file: method,
      field: key,
    });
  if (v.length > MAX_PATH_CHARS)
    throw badInput(`expected at most ${MAX_PATH_CHARS} characters, found ${v.length}`, { file: method, field: key });
  return v;
}

/** Wraps a handler so that every thrown error crosses the boundary as typed data. */
function typed<P, R>(handler: (p: P) => R | Promise<R>): (p: P) => Promise<R> {
  return async (p) => {
    try {
      return await handler(p);
    } catch (e) {
      throw toResponseError(e);
    }
  };
}

export class SidecarServer {
  private readonly runs: RunManager;
  private readonly tasks: Tasks;
  /** What each polling client's last `aft/listRunChanges` answer held. */
  private readonly listing = new RunListingJournal();
  private minLevel: number = LEVELS.info;

  constructor(
    private readonly connection: MessageConnection,
    private readonly onExit: (code: number) => void = (code) => process.exit(code),
  ) {
    this.runs = new RunManager(
      (e) => this.send(e),
      1,
      (text) => {
        // stderr may be a closed pipe once the extension has gone; the run goes on regardless.
        try {
          process.stderr.write(text);
        } catch {
          // nobody is listening
        }
      },
    );
    this.tasks = new Tasks((e) => this.send(e), this.runs);
    this.runs.otherWork = (file) => this.tasks.extracting(file);
  }

  /** The extension went away while runs were training: they go on, and nothing is sent. */
  private detached = false;

  private send(e: RunEvent): void {
    if (this.detached) return;
    if (e.type === 'log' && LEVELS[e.level] < this.minLevel) return;
    // A connection that closed under us (the window went away) throws; the run must not notice.
    try {
      void this.connection.sendNotification(RunEventNotification, e).catch(() => undefined);
    } catch {
      this.detached = true;
    }
  }

  listen(): void {
    const c = this.connection;
    c.onRequest(
      Initialize,
      typed(async (params: InitializeParams) => {
        if (Number.isInteger(params?.maxConcurrentRuns) && params.maxConcurrentRuns > 0)
          this.runs.limit = params.maxConcurrentRuns;
        if (typeof params?.logLevel === 'string' && Object.hasOwn(LEVELS, params.logLevel))
          this.minLevel = LEVELS[params.logLevel];
        return {
          protocolVersion: PROTOCOL_VERSION,
          sidecarVersion: SIDECAR_VERSION,
          pid: process.pid,
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
          versions: packageVersions(),
          ...(await probeBackends()),
          devices: probeDevices(),
        };
      }),
    );

    c.onRequest(
      Validate,
      typed((params: { file: string }): ValidateResult => {
        const file = stringParam(params, 'file', 'aft/validate');
        // Read and checked as `aft validate` does (a missing file or a folder is bad input naming it).
        const { experiment, problems, memory } = checkExperimentFile(file);
        return {
          ...(experiment ? { name: experiment.name } : {}),
          ...(memory ? { memory: memoryJson(memory) } : {}),
          methods: experiment ? resolveMethods(experiment).map((m) => m.name) : [],
          problems: problems.map(({ message, field, line, column, endLine, endColumn, severity }) => ({
            message,
            field,
            line,
            column,
            endLine,
            endColumn,
            severity,
          })),
        };
      }),
    );

    c.onRequest(
      StartRun,
      typed((params) => this.runs.start(params)),
    );
    c.onRequest(
      CancelRun,
      typed((params: { runId: string; runDir?: string }) => {
        const runId = stringParam(params, 'runId', 'aft/cancel');
        if (this.runs.cancel(runId) || this.tasks.cancel(runId)) return { cancelled: true };
        // A run another process trains (a sidecar of a window that closed, `aft run`): asked
        // through its folder, which that process checks every second.
        const runDir = params.runDir === undefined ? undefined : stringParam(params, 'runDir', 'aft/cancel');
        return {
          cancelled: runDir !== undefined && path.basename(runDir) === runId && requestStop(runDir, 'aft/cancel'),
        };
      }),
    );

    c.onRequest(
      ListRuns,
      typed((params: { workspaceDir: string }) => runInfos(stringParam(params, 'workspaceDir', 'aft/listRuns'))),
    );
    c.onRequest(
      ListRunChanges,
      typed((params: { workspaceDir: string; since?: string }) =>
        this.listing.changes(
          stringParam(params, 'workspaceDir', 'aft/listRunChanges'),
          params.since === undefined ? undefined : stringParam(params, 'since', 'aft/listRunChanges'),
        ),
      ),
    );

    c.onRequest(
      ExtractFeatures,
      typed((params) => this.tasks.extract(params)),
    );
    c.onRequest(
      ExportModel,
      typed((params) => this.tasks.export(params)),
    );

    c.onRequest(Shutdown, async () => {
      await Promise.all([this.runs.cancelAll(5000), this.tasks.cancelAll(5000)]);
      setImmediate(() => this.onExit(0));
    });

    c.listen();
  }

  /** Called on an uncaught error: stop the runs (their stores mark them failed) and report. */
  async crash(e: unknown): Promise<void> {
    this.send({ type: 'log', level: 'error', message: `sidecar crashed: ${describeError(e)}`, timestamp: Date.now() });
    await Promise.all([this.runs.cancelAll(2000), this.tasks.cancelAll(2000)]);
  }

  /**
   * The connection closed (the window closed or reloaded, the remote connection dropped): runs
   * train on to their end, unattended, and the next window's sidecar finds them in the run store
   * (their progress, Stop through the run folder); extractions, which a request waits for, stop.
   * Resolves when the last run has ended.
   */
  async close(): Promise<void> {
    this.detached = true;
    await Promise.all([this.runs.waitAll(), this.tasks.cancelAll(5000)]);
  }
}
