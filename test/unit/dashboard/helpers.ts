/** A run folder written step by step, and a clock the tests move by hand. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Timers } from '../../../extension/src/dashboard/throttle';
import { RunReader } from '../../../core/node/runs/reader';
import { RunAccumulator } from '../../../core/common/view/runAccumulator';

export function tempRun(state: 'running' | 'completed' = 'running', pid = process.pid): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aft-dash-')), 'demo-20260101-000000-abcd');
  fs.mkdirSync(dir);
  writeStatus(dir, state, pid);
  return dir;
}

export function writeStatus(dir: string, state: string, pid = process.pid, extra: Record<string, unknown> = {}): void {
  const now = new Date().toISOString();
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify({
      format: 'aft-run-status',
      version: 1,
      runId: path.basename(dir),
      experiment: 'demo',
      state,
      pid,
      host: os.hostname(),
      started: now,
      updated: now,
      ...extra,
    }),
  );
}

export function row(method: string, seed: number, step: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    method,
    seed,
    beta: 1,
    phase: 'final',
    step,
    epoch: 1,
    ce: 1 / step,
    reg: 0.1,
    loss: 1 / step + 0.1,
    trainAccuracy: 0.5,
    evalAccuracy: 0.6,
    lr: 0.001,
    timestamp: 0,
    ...extra,
  });
}

export function appendRows(dir: string, lines: string[]): void {
  fs.appendFileSync(path.join(dir, 'metrics.jsonl'), lines.map((l) => l + '\n').join(''));
}

/** setTimeout that runs only when the test advances the clock. */
export class FakeTimers implements Timers {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Moves time forward, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.pending].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }

  get count(): number {
    return this.pending.size;
  }
}

/**
 * What a dashboard of `maxPoints` per curve gets from a run folder, read to the end: the series it
 * would show, the problems said, and whether it started from metrics.cols or metrics.view.json
 * (asked for with `viewPoints`).
 */
export function readRunToEnd(
  dir: string,
  maxPoints: number,
  viewPoints?: number,
): { series: unknown; problems: string[]; fromCache: boolean; fromViews: boolean } {
  const reader = new RunReader(dir, { budgetMs: 1e9, ...(viewPoints !== undefined ? { viewPoints } : {}) });
  const acc = new RunAccumulator('r', dir, maxPoints);
  const out = { problems: [] as string[], fromCache: false, fromViews: false };
  for (let more = true; more;) {
    const c = reader.poll();
    out.fromCache ||= c.series !== undefined;
    out.fromViews ||= c.views !== undefined;
    out.problems.push(...c.problems);
    acc.apply(c);
    more = c.more;
  }
  return { ...out, series: acc.snapshot().series };
}
