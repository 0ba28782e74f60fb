/**
 * The runs a sidecar is training: at most `limit` at once, never the same file twice. A run
 * answers `started` once its folder exists; cancelling aborts its signal, which the training
 * loop checks every step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadExperiment } from '../experiment/load';
import { parseOverrides, RPC_ORIGIN } from '../../../core/node/experiment/overrides';
import type { RunEvent } from '../../../core/common/protocol/events';
import type { RunParams, RunStarted } from '../../../core/common/protocol/rpc';
import { RUNS_DIR } from '../../../core/node/runs/store';
import { runExperiment } from '../train/run';
import { runStudy } from '../study/runStudy';
import { AftError, badInput, BusyError, CancelledError, describeError } from '../../../core/common/util/errors';

interface ActiveRun {
  file: string;
  runId?: string;
  controller: AbortController;
  done: Promise<void>;
  /** Its final status event was sent (with its error, if any). */
  ended?: boolean;
}

export class RunManager {
  private readonly runs = new Set<ActiveRun>();

  /** Other work on a file (a feature extraction): its id, and then the file is not run. */
  otherWork: (file: string) => string | undefined = () => undefined;

  constructor(
    private readonly send: (e: RunEvent) => void,
    public limit = 1,
  ) {}

  get size(): number {
    return this.runs.size;
  }

  hasRunId(id: string): boolean {
    return [...this.runs].some((r) => r.runId === id);
  }

  /** The run (id, or the file's name while it starts) of `file` in progress, if any. */
  runningFile(file: string): string | undefined {
    const r = [...this.runs].find((x) => x.file === file);
    return r ? (r.runId ?? path.basename(file)) : undefined;
  }

  async start(params: RunParams): Promise<RunStarted> {
    if (typeof params !== 'object' || params === null || Array.isArray(params))
      throw badInput('expected {file, workspaceDir, backend?, seeds?, steps?, methods?}', { file: 'aft/run' });
    for (const key of ['file', 'workspaceDir'] as const) {
      const v: unknown = params[key];
      if (typeof v !== 'string' || !v)
        throw badInput(`expected an absolute path, found ${JSON.stringify(v)?.slice(0, 80) ?? 'nothing'}`, {
          file: 'aft/run',
          field: key,
        });
      if (v.length > 4096)
        throw badInput(`expected a path of at most 4096 characters, found ${v.length}`, {
          file: 'aft/run',
          field: key,
        });
    }
    // Checked by the experiment file's own field schemas before anything else happens.
    const overrides = parseOverrides(params, RPC_ORIGIN);
    if (params.newStudy !== undefined && typeof params.newStudy !== 'boolean')
      throw badInput(`expected true or false, found ${JSON.stringify(params.newStudy)?.slice(0, 80)}`, {
        file: 'aft/run',
        field: 'newStudy',
      });
    const file = path.resolve(params.file);
    const same = [...this.runs].find((r) => r.file === file);
    if (same)
      throw new BusyError(
        `${path.basename(file)} is already running${same.runId ? ` (${same.runId})` : ''}; stop it first or wait for it to finish`,
      );
    const other = this.otherWork(file);
    if (other)
      throw new BusyError(
        `the features of ${path.basename(file)} are being extracted (${other}); wait for that or cancel it`,
      );
    if (this.runs.size >= this.limit) {
      const ids = [...this.runs].map((r) => r.runId ?? path.basename(r.file)).join(', ');
      throw new BusyError(
        `${this.runs.size} run${this.runs.size === 1 ? ' is' : 's are'} in progress (${ids}) and at most ${this.limit} may run at once (setting aft.maxConcurrentRuns); stop one or wait`,
      );
    }
    ensureWritable(path.join(params.workspaceDir, RUNS_DIR));
    const loaded = loadExperiment(file);
    const run: ActiveRun = { file, controller: new AbortController(), done: Promise.resolve() };
    this.runs.add(run);
    let resolveStarted!: (v: RunStarted) => void;
    const started = new Promise<RunStarted>((res) => (resolveStarted = res));
    const input = { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: loaded.text };
    const options = {
      workspaceDir: params.workspaceDir,
      ...overrides,
      origin: RPC_ORIGIN,
      signal: run.controller.signal,
      sink: (e: RunEvent) => {
        // A study's runs follow one another: the one in progress is the one a cancel stops.
        if (e.type === 'status' && e.state === 'running') {
          run.runId = e.runId;
          resolveStarted({
            runId: e.runId,
            runDir: e.runDir,
            ...(e.study ? { studyDir: e.study.studyDir } : {}),
          });
        } else if (e.type === 'status' && (!e.study || e.state !== 'completed')) run.ended = true;
        this.send(e);
      },
    };
    const outcome: Promise<unknown> = loaded.study
      ? runStudy({ ...input, file, study: loaded.study }, { ...options, newStudy: params.newStudy ?? false })
      : runExperiment(input, options);
    run.done = outcome.then(
      () => undefined,
      (e: unknown) => {
        // The run's own events said it failed, once (its error, then its status); a run that
        // never started (bad overrides, unwritable folder) reaches the caller through `started`.
        if (!(e instanceof CancelledError) && run.runId && !run.ended)
          this.send({
            type: 'log',
            runId: run.runId,
            level: 'error',
            message: describeError(e),
            timestamp: Date.now(),
          });
      },
    );
    void run.done.finally(() => this.runs.delete(run));
    // Whichever comes first: the run folder exists, or the run failed before it did.
    return Promise.race([
      started,
      outcome.then(
        () => started,
        (e: unknown) => {
          if (run.runId) return started;
          throw e instanceof AftError ? e : badInput(describeError(e).split('\n')[0]);
        },
      ),
    ]);
  }

  cancel(runId: string): boolean {
    const run = [...this.runs].find((r) => r.runId === runId);
    if (!run) return false;
    run.controller.abort();
    return true;
  }

  /** Resolves when every run in progress has ended. */
  async waitAll(): Promise<void> {
    await Promise.all([...this.runs].map((r) => r.done));
  }

  /** Cancels every run and waits (at most `timeoutMs`) until their stores say so. */
  async cancelAll(timeoutMs: number): Promise<void> {
    for (const r of this.runs) r.controller.abort();
    await Promise.race([Promise.all([...this.runs].map((r) => r.done)), new Promise((r) => setTimeout(r, timeoutMs))]);
  }
}

function ensureWritable(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    throw badInput(
      `the runs folder ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another with the setting aft.runsFolder`,
    );
  }
}
