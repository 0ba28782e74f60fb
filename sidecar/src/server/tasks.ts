/**
 * The sidecar's `aft/extract` and `aft/export` requests: their parameters checked (typed bad
 * input naming the field), then the same library functions as `aft extract` and `aft export`.
 * An extraction is cancellable by its id through `aft/cancel`; the same experiment file is never
 * extracted twice at once (both would compute the same cache entry).
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { BACKEND_CHOICES } from '../../../core/node/experiment/schema';
import { loadExperiment } from '../experiment/load';
import { exportModel } from '../export/exportRun';
import { checkShard, extractExperiment } from '../features/extractExperiment';
import type { RunEvent } from '../../../core/common/protocol/events';
import type { ExportParams, ExportReport, ExtractParams, ExtractResult } from '../../../core/common/protocol/rpc';
import { badInput } from '../../../core/common/util/errors';
import { BusyError } from '../../../core/common/util/errors';

const ID = /^[A-Za-z0-9_-]{1,80}$/;

interface ActiveExtraction {
  id: string;
  file: string;
  controller: AbortController;
  done: Promise<unknown>;
}

/** A required absolute path from a request. */
function absolutePath(v: unknown, method: string, field: string): string {
  if (typeof v !== 'string' || !v)
    throw badInput(`expected an absolute path, got ${JSON.stringify(v)?.slice(0, 80) ?? 'nothing'}`, {
      file: method,
      field,
    });
  if (v.length > 4096)
    throw badInput(`expected a path of at most 4096 characters, found ${v.length}`, { file: method, field });
  if (!path.isAbsolute(v)) throw badInput(`expected an absolute path, got '${v}'`, { file: method, field });
  return path.normalize(v);
}

export class Tasks {
  private readonly extractions = new Map<string, ActiveExtraction>();

  constructor(
    private readonly send: (e: RunEvent) => void,
    private readonly runs: { hasRunId(id: string): boolean; runningFile(file: string): string | undefined } = {
      hasRunId: () => false,
      runningFile: () => undefined,
    },
  ) {}

  /** The id of the extraction of `file` in progress, if any (a run of that file waits for it). */
  extracting(file: string): string | undefined {
    return [...this.extractions.values()].find((x) => x.file === file)?.id;
  }

  get size(): number {
    return this.extractions.size;
  }

  async extract(params: ExtractParams): Promise<ExtractResult> {
    const where = 'aft/extract';
    if (typeof params !== 'object' || params === null) throw badInput('expected {file, workspaceDir}', { file: where });
    const file = absolutePath(params.file, where, 'file');
    const workspaceDir = absolutePath(params.workspaceDir, where, 'workspaceDir');
    const shard = params.shard === undefined ? undefined : checkShard(params.shard, { file: where, field: 'shard' });
    if (params.backend !== undefined && !(BACKEND_CHOICES as readonly string[]).includes(params.backend)) {
      throw badInput(`must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(params.backend)}`, {
        file: where,
        field: 'backend',
      });
    }
    const id = params.extractionId ?? `extract-${randomUUID().slice(0, 8)}`;
    if (typeof id !== 'string' || !ID.test(id))
      throw badInput(`expected letters, digits, '-' or '_' (at most 80), got ${JSON.stringify(id)}`, {
        file: where,
        field: 'extractionId',
      });
    if (this.extractions.has(id) || this.runs.hasRunId(id))
      throw badInput(`'${id}' is already in use; choose another id`, { file: where, field: 'extractionId' });
    const same = this.extracting(file);
    if (same)
      throw new BusyError(
        `features of ${path.basename(file)} are already being extracted (${same}); cancel that or wait for it`,
      );
    const running = this.runs.runningFile(file);
    if (running)
      throw new BusyError(
        `${path.basename(file)} is running (${running}) and extracts its features itself; stop it first or wait for it to finish`,
      );
    // Extraction trains nothing: the student's memory is the run's concern.
    const loaded = loadExperiment(file, { memory: false });
    const task: ActiveExtraction = { id, file, controller: new AbortController(), done: Promise.resolve() };
    this.extractions.set(id, task);
    const work = extractExperiment(loaded.experiment, loaded.baseDir, {
      workspaceDir,
      id,
      ...(shard ? { shard } : {}),
      ...(params.backend ? { backend: params.backend } : {}),
      signal: task.controller.signal,
      sink: (e) => this.send(e),
    });
    task.done = work.catch(() => undefined);
    try {
      const { cacheRoot, entries } = await work;
      return { extractionId: id, cacheRoot, entries };
    } finally {
      this.extractions.delete(id);
    }
  }

  /** Cancels an extraction by id; false when there is none (then it may be a run). */
  cancel(id: string): boolean {
    const x = this.extractions.get(id);
    if (!x) return false;
    x.controller.abort();
    return true;
  }

  async cancelAll(timeoutMs: number): Promise<void> {
    for (const x of this.extractions.values()) x.controller.abort();
    await Promise.race([
      Promise.all([...this.extractions.values()].map((x) => x.done)),
      new Promise((r) => setTimeout(r, timeoutMs)),
    ]);
  }

  async export(params: ExportParams): Promise<ExportReport> {
    const where = 'aft/export';
    if (typeof params !== 'object' || params === null)
      throw badInput('expected {runDir, method, seed, out}', { file: where });
    const runDir = absolutePath(params.runDir, where, 'runDir');
    const out = absolutePath(params.out, where, 'out');
    if (typeof params.method !== 'string' || !params.method)
      throw badInput(`expected a method of the run, got ${JSON.stringify(params.method)}`, {
        file: where,
        field: 'method',
      });
    if (typeof params.seed !== 'number' || !Number.isInteger(params.seed) || params.seed < 0)
      throw badInput(`expected a non-negative integer seed, got ${JSON.stringify(params.seed)}`, {
        file: where,
        field: 'seed',
      });
    return exportModel({
      origin: where,
      run: runDir,
      workspaceDir: path.dirname(runDir),
      out,
      method: params.method,
      seed: params.seed,
      ...(params.device !== undefined ? { device: params.device } : {}),
      log: (message) => this.send({ type: 'log', level: 'info', message: `export: ${message}`, timestamp: Date.now() }),
    });
  }
}
