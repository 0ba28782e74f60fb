/**
 * The extension's side of the sidecar: spawns the sidecar process, speaks the typed JSON-RPC
 * protocol over its stdio, restarts it after a crash (within the restart policy) and makes
 * sure runs that were in flight end up `failed` in the run store, never left `running`.
 * Free of `vscode` so that tests drive it against a real sidecar process in plain Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { RunEvent, StatusEvent, StudyPosition } from '../../../core/common/protocol/events';
import {
  CancelRun,
  ExportModel,
  ExtractFeatures,
  Initialize,
  ListRunChanges,
  ListRuns,
  RunEventNotification,
  Shutdown,
  StartRun,
  Validate,
  type ExportParams,
  type ExportReport,
  type ExtractParams,
  type ExtractResult,
  type InitializeParams,
  type InitializeResult,
  type RunInfo,
  type RunParams,
  type RunStarted,
  type ValidateResult,
} from '../../../core/common/protocol/rpc';
import { RunListing } from '../../../core/common/runs/runListing';
import { markAbandonedRun } from '../../../core/node/runs/abandoned';
import { Emitter } from '../util/emitter';
import { silentLogger, type Logger } from '../util/log';
import { RestartPolicy } from './restartPolicy';

export type SidecarState = 'stopped' | 'starting' | 'ready' | 'restarting' | 'failed';

export interface SidecarOptions {
  /** The bundled sidecar entry (dist/sidecar/server.js). */
  serverScript: string;
  /** A Node executable; by default the one running the extension host, as plain Node. */
  nodePath?: string;
  /** Extra environment for the sidecar (e.g. NODE_PATH for the GPU runtime). */
  env?: Record<string, string>;
  init: InitializeParams;
  policy?: RestartPolicy;
  log?: Logger;
  /** How long the sidecar may take to answer `initialize`. */
  startTimeoutMs?: number;
}

/** Why the sidecar is not available: what the user is shown, with the last stderr lines. */
export interface SidecarFailure {
  message: string;
  stderrTail: string[];
}

const STDERR_LINES = 30;

const delay = (ms: number): Promise<undefined> => new Promise((r) => setTimeout(() => r(undefined), ms));

export class SidecarClient {
  private child: ChildProcess | undefined;
  private connection: MessageConnection | undefined;
  private _state: SidecarState = 'stopped';
  private _info: InitializeResult | undefined;
  private _failure: SidecarFailure | undefined;
  private stopping = false;
  private readonly stderrTail: string[] = [];
  /** Runs this sidecar is training: runId → its folder (and its study, for a value of one). */
  private readonly inFlight = new Map<string, { runDir: string; study?: StudyPosition }>();
  /** Each workspace's run listing as last answered, and the call that brings it up to date. */
  private readonly listings = new Map<string, { listing: RunListing; last: Promise<unknown> }>();
  private readonly policy: RestartPolicy;
  private readonly log: Logger;
  private starting: Promise<InitializeResult> | undefined;

  private readonly stateEmitter = new Emitter<SidecarState>();
  private readonly eventEmitter = new Emitter<RunEvent>();
  private readonly failureEmitter = new Emitter<SidecarFailure>();
  /** The sidecar's state changed. */
  readonly onState = this.stateEmitter.event;
  /** A run event arrived (or was synthesised for a run lost in a crash). */
  readonly onRunEvent = this.eventEmitter.event;
  /** The sidecar could not be started, or crashed more often than the policy allows. */
  readonly onFailure = this.failureEmitter.event;

  constructor(private options: SidecarOptions) {
    this.policy = options.policy ?? new RestartPolicy();
    this.log = options.log ?? silentLogger;
  }

  get state(): SidecarState {
    return this._state;
  }
  get info(): InitializeResult | undefined {
    return this._info;
  }
  get failure(): SidecarFailure | undefined {
    return this._failure;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get runningRunIds(): string[] {
    return [...this.inFlight.keys()];
  }

  private setState(s: SidecarState): void {
    if (s === this._state) return;
    this._state = s;
    this.log.debug(`sidecar: ${s}`);
    this.stateEmitter.fire(s);
  }

  /** Starts the sidecar if it is not running; resolves once it has answered `initialize`. */
  start(): Promise<InitializeResult> {
    if (this._state === 'ready' && this._info) return Promise.resolve(this._info);
    this.starting ??= this.spawnAndInitialize(false).finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** New options (settings changed); they apply from the next start. */
  setOptions(options: SidecarOptions): void {
    this.options = options;
  }

  /** Stops the sidecar and starts a fresh one; forgets past crashes. */
  async restart(): Promise<InitializeResult> {
    await this.stop();
    this.policy.reset();
    return this.start();
  }

  private async spawnAndInitialize(isRestart: boolean): Promise<InitializeResult> {
    this.setState(isRestart ? 'restarting' : 'starting');
    this._failure = undefined;
    this.stopping = false;
    const node = this.options.nodePath || process.execPath;
    const env = { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' };
    this.log.info(`starting the sidecar: ${node} ${this.options.serverScript}`);
    let child: ChildProcess;
    try {
      // Its own process group (POSIX): the runs it trains outlive the window (`detach`), so what
      // ends the extension host's group must not end it.
      child = spawn(node, [this.options.serverScript], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env,
        windowsHide: true,
        detached: process.platform !== 'win32',
      });
    } catch (e) {
      throw this.fail(`could not start the sidecar with Node '${node}': ${(e as Error).message}`);
    }
    this.child = child;
    const connection = createMessageConnection(
      new StreamMessageReader(child.stdout!),
      new StreamMessageWriter(child.stdin!),
    );
    this.connection = connection;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => this.onStderr(chunk));
    connection.onNotification(RunEventNotification, (e) => this.onEvent(e));
    // A write to a dead sidecar fails here instead of crashing the extension host.
    child.stdin!.on('error', (e) => this.log.debug(`sidecar stdin: ${e.message}`));
    connection.onError(([e]) => this.log.debug(`sidecar connection: ${e.message}`));
    connection.listen();

    const exited = new Promise<string>((resolve) => {
      child.once('error', (e) => resolve(`could not start the sidecar with Node '${node}': ${e.message}`));
      // 'close' (not 'exit'): the last notifications on stdout have been read by then.
      child.once('close', (code, signal) =>
        resolve(signal ? `the sidecar was killed (${signal})` : `the sidecar exited with code ${code}`),
      );
    });
    void exited.then((why) => this.onExit(child, connection, why));

    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const initialized = connection.sendRequest(Initialize, this.options.init).then(
      (info) => ({ info }),
      // A request that fails because the process died reports why it died.
      async (e: unknown) => ({
        error:
          (await Promise.race([exited, delay(1000)])) ?? `the sidecar failed to initialise: ${(e as Error).message}`,
      }),
    );
    const outcome = await Promise.race([
      initialized,
      exited.then((why) => ({ error: why })),
      new Promise<{ error: string }>(
        (r) =>
          (timer = setTimeout(
            () => r({ error: `the sidecar did not answer within ${timeoutMs / 1000} s` }),
            timeoutMs,
          )),
      ),
    ]);
    clearTimeout(timer);
    if ('error' in outcome) {
      this.stopping = true;
      child.kill('SIGKILL');
      throw this.fail(outcome.error);
    }
    this._info = outcome.info;
    this.log.info(
      `sidecar ${outcome.info.sidecarVersion} ready (pid ${outcome.info.pid}, node ${outcome.info.node}, default backend ${outcome.info.defaultBackend ?? 'none'})`,
    );
    this.setState('ready');
    return outcome.info;
  }

  private fail(message: string): Error {
    this._failure = { message, stderrTail: [...this.stderrTail] };
    this.log.error(`${message}${this.stderrTail.length ? `; its last output:\n${this.stderrTail.join('\n')}` : ''}`);
    this.setState('failed');
    this.failureEmitter.fire(this._failure);
    return new Error(message);
  }

  private onStderr(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
      this.log.trace(`[sidecar] ${line}`);
    }
  }

  private onEvent(e: RunEvent): void {
    if (e.type === 'status') {
      if (e.state === 'running')
        this.inFlight.set(e.runId, { runDir: e.runDir, ...(e.study ? { study: e.study } : {}) });
      else this.inFlight.delete(e.runId);
    }
    this.eventEmitter.fire(e);
  }

  private onExit(child: ChildProcess, connection: MessageConnection, why: string): void {
    connection.dispose();
    if (this.child !== child) return;
    this.child = undefined;
    this.connection = undefined;
    const expected = this.stopping;
    const wasReady = this._state === 'ready';
    this.abandonRuns(
      child.pid,
      expected ? 'the sidecar was stopped while the run was in progress' : `${why} while the run was in progress`,
    );
    if (expected) {
      if (this._state !== 'failed') this.setState('stopped');
      return;
    }
    // A sidecar that dies while starting is reported by spawnAndInitialize.
    if (!wasReady) return;
    this.log.error(`${why}; last stderr lines:\n${this.stderrTail.slice(-10).join('\n')}`);
    if (!this.policy.recordCrash()) {
      this.fail(
        `${why}. It crashed ${this.policy.maxRestarts + 1} times within ${Math.round(this.policy.windowMs / 60_000)} minutes, so it is not restarted again; use "AFT: Restart Sidecar" after fixing the cause`,
      );
      return;
    }
    this.log.warn(`${why}; restarting it`);
    this.starting = this.spawnAndInitialize(true).finally(() => (this.starting = undefined));
    this.starting.catch(() => {
      // fail() has already told the listeners.
    });
  }

  /** Runs the dead sidecar was training are marked failed in their stores, and listeners told. */
  private abandonRuns(pid: number | undefined, message: string): void {
    for (const [runId, { runDir, study }] of this.inFlight) {
      try {
        if (pid !== undefined && markAbandonedRun(runDir, pid, message))
          this.log.warn(`run ${runId} marked failed: ${message}`);
      } catch (e) {
        this.log.error(`could not mark run ${runId} failed: ${(e as Error).message}`);
      }
      // A study's run stays under its study in the Runs view.
      const status: StatusEvent = {
        type: 'status',
        runId,
        state: 'failed',
        runDir,
        message,
        ...(study ? { study } : {}),
      };
      this.eventEmitter.fire(status);
    }
    this.inFlight.clear();
  }

  private async ready(): Promise<MessageConnection> {
    if (this._state !== 'ready' || !this.connection) await this.start();
    return this.connection!;
  }

  async run(params: RunParams): Promise<RunStarted> {
    const c = await this.ready();
    const started = await c.sendRequest(StartRun, params);
    if (!this.inFlight.has(started.runId)) this.inFlight.set(started.runId, { runDir: started.runDir });
    return started;
  }
  /** Stops a run: this sidecar's, or with `runDir` one another process trains (a run that outlived its window). */
  async cancel(runId: string, runDir?: string): Promise<boolean> {
    return (await (await this.ready()).sendRequest(CancelRun, { runId, ...(runDir ? { runDir } : {}) })).cancelled;
  }
  /** Every run of a workspace, newest first, in one answer (`aft/listRuns`: what a client that does not poll asks). */
  async listRunsWhole(workspaceDir: string): Promise<RunInfo[]> {
    return (await this.ready()).sendRequest(ListRuns, { workspaceDir });
  }
  /**
   * The runs of a workspace, newest first, as `aft/listRuns` answers them: kept here and brought
   * up to date with `aft/listRunChanges`, so a poll carries the rows that changed, not a thousand
   * summaries. Calls for one workspace go one after another (each applies the answer to the last).
   */
  listRuns(workspaceDir: string): Promise<RunInfo[]> {
    const held = this.listings.get(workspaceDir) ?? { listing: new RunListing(), last: Promise.resolve() };
    this.listings.set(workspaceDir, held);
    const next = held.last.then(async () => {
      const c = await this.ready();
      const since = held.listing.cursor;
      return held.listing.apply(
        await c.sendRequest(ListRunChanges, { workspaceDir, ...(since === undefined ? {} : { since }) }),
      );
    });
    held.last = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
  async validate(file: string): Promise<ValidateResult> {
    return (await this.ready()).sendRequest(Validate, { file });
  }
  /**
   * Extracts an experiment's features; events carry `params.extractionId` as their `runId`, and
   * `cancel(extractionId)` stops it (the request then fails with kind `cancelled`).
   */
  async extract(params: ExtractParams): Promise<ExtractResult> {
    return (await this.ready()).sendRequest(ExtractFeatures, params);
  }
  async export(params: ExportParams): Promise<ExportReport> {
    return (await this.ready()).sendRequest(ExportModel, params);
  }

  /**
   * Graceful stop: asks the sidecar to cancel its runs and exit, and kills it when it has not
   * exited within `timeoutMs`.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    const child = this.child;
    const connection = this.connection;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.setState('stopped');
      return;
    }
    this.stopping = true;
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    void connection?.sendRequest(Shutdown).catch(() => undefined);
    if ((await Promise.race([exited, timedOut])) === 'timeout') {
      this.log.warn(`the sidecar did not exit within ${timeoutMs} ms; killing it`);
      child.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
    this.setState('stopped');
  }

  /**
   * The window is closing: a sidecar with runs in flight is let go instead of stopped. Its pipes
   * are closed, so it sends nothing more, trains its runs to their end and exits; the next
   * window's sidecar finds them in the run store (progress, dashboards, Stop through the run
   * folder). Without runs it is stopped. Returns the runs that go on.
   */
  async detachOrStop(timeoutMs = 5000): Promise<string[]> {
    const child = this.child;
    const runs = [...this.inFlight.keys()];
    if (!child || runs.length === 0) {
      await this.stop(timeoutMs);
      return [];
    }
    this.child = undefined;
    this.connection?.dispose();
    this.connection = undefined;
    this.inFlight.clear();
    child.removeAllListeners();
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
    this.log.info(
      `the sidecar (pid ${child.pid}) trains on after this window closes: ${runs.join(', ')}; the Runs view shows them when a window opens again`,
    );
    this.setState('stopped');
    return runs;
  }

  dispose(): void {
    this.child?.kill('SIGKILL');
    this.stateEmitter.dispose();
    this.eventEmitter.dispose();
    this.failureEmitter.dispose();
  }
}
