/**
 * The runs a sidecar is training: at most `limit` at once, never the same file twice, each in a
 * run process of its own (runChild.ts), so that the sidecar answers while they train. A run
 * answers `started` once its folder exists; a cancel reaches the run process, whose training
 * loop checks it every step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadExperiment } from '../experiment/load';
import { parseOverrides, RPC_ORIGIN } from '../../../core/node/experiment/overrides';
import type { RunEvent } from '../../../core/common/protocol/events';
import type { RunParams, RunStarted } from '../../../core/common/protocol/rpc';
import { RUNS_DIR } from '../../../core/node/runs/store';
import { AftError, badInput, BusyError, CancelledError, describeError } from '../../../core/common/util/errors';
import { startRunProcess } from './runChild';

interface ActiveRun {
  file: string;
  runId?: string;
  cancel: () => void;
  done: Promise<void>;
  /**
   * Its final status event was sent (with its error, if any): it no longer counts against the
   * limit or blocks its file, although its process may take a moment more to exit.
   */
  ended?: boolean;
}

export class RunManager {
  private readonly runs = new Set<ActiveRun>();

  /** Other work on a file (a feature extraction): its id, and then the file is not run. */
  otherWork: (file: string) => string | undefined = () => undefined;

  constructor(
    private readonly send: (e: RunEvent) => void,
    public limit = 1,
    /** What a run process prints (the sidecar's stderr). */
    private readonly output: (text: string) => void = () => undefined,
  ) {}

  /** The runs that have not ended. */
  private active(): ActiveRun[] {
    return [...this.runs].filter((r) => !r.ended);
  }

  get size(): number {
    return this.active().length;
  }

  hasRunId(id: string): boolean {
    return this.active().some((r) => r.runId === id);
  }

  /** The run (id, or the file's name while it starts) of `file` in progress, if any. */
  runningFile(file: string): string | undefined {
    const r = this.active().find((x) => x.file === file);
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
    const active = this.active();
    const same = active.find((r) => r.file === file);
    if (same)
      throw new BusyError(
        `${path.basename(file)} is already running${same.runId ? ` (${same.runId})` : ''}; stop it first or wait for it to finish`,
      );
    const other = this.otherWork(file);
    if (other)
      throw new BusyError(
        `the features of ${path.basename(file)} are being extracted (${other}); wait for that or cancel it`,
      );
    if (active.length >= this.limit) {
      const ids = active.map((r) => r.runId ?? path.basename(r.file)).join(', ');
      throw new BusyError(
        `${active.length} run${active.length === 1 ? ' is' : 's are'} in progress (${ids}) and at most ${this.limit} may run at once (setting aft.maxConcurrentRuns); stop one or wait`,
      );
    }
    ensureWritable(path.join(params.workspaceDir, RUNS_DIR));
    const loaded = loadExperiment(file, overrides.backend ? { backend: overrides.backend } : {});
    let resolveStarted!: (v: RunStarted) => void;
    const started = new Promise<RunStarted>((res) => (resolveStarted = res));
    const sink = (e: RunEvent): void => {
      // A study's runs follow one another: the one in progress is the one a cancel stops.
      if (e.type === 'status' && e.state === 'running') {
        run.runId = e.runId;
        resolveStarted({
          runId: e.runId,
          runDir: e.runDir,
          ...(e.study ? { studyDir: e.study.studyDir } : {}),
        });
      } else if (e.type === 'status' && (!e.study || e.state !== 'completed' || e.study.value === e.study.values - 1))
        // A study ends with its last value's run, or with the first that does not complete.
        run.ended = true;
      this.send(e);
    };
    const child = startRunProcess(
      {
        type: 'start',
        file,
        experiment: loaded.experiment,
        baseDir: loaded.baseDir,
        sourceText: loaded.text,
        ...(loaded.study ? { study: loaded.study } : {}),
        newStudy: params.newStudy ?? false,
        workspaceDir: params.workspaceDir,
        overrides,
      },
      sink,
      this.output,
    );
    const run: ActiveRun = { file, cancel: () => child.cancel(), done: Promise.resolve() };
    this.runs.add(run);
    const outcome = child.outcome;
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
    run.cancel();
    return true;
  }

  /** Resolves when every run in progress has ended. */
  async waitAll(): Promise<void> {
    await Promise.all([...this.runs].map((r) => r.done));
  }

  /** Cancels every run and waits (at most `timeoutMs`) until their stores say so. */
  async cancelAll(timeoutMs: number): Promise<void> {
    for (const r of this.runs) r.cancel();
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
