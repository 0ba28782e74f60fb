/**
 * A sharded run's state as readers see it (core/node/runs/shardRecords.ts `shardedStatus`, through
 * `readRunStatus`): running with the whole run's progress while a worker lives, failed or
 * cancelled (saying how many jobs are done) when none does. Data-driven: the worker records and
 * the jobs done of each case, and what `readRunStatus` must say.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { RunStatus } from '../../core/common/runs/records';
import {
  JOBS_DIR,
  SHARD_PLAN_FILE,
  WORKERS_DIR,
  type ShardPlanRecord,
  type WorkerRecord,
} from '../../core/node/runs/shardRecords';
import { newRunStatus, readRunStatus } from '../../core/node/runs/store';

const deadPid = (): number =>
  Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

const ago = (s: number): string => new Date(Date.now() - s * 1000).toISOString();

function worker(name: string, w: Partial<WorkerRecord>): WorkerRecord {
  return {
    format: 'aft-shard-worker',
    version: 1,
    worker: name,
    shard: 0,
    pid: process.pid,
    host: os.hostname(),
    started: ago(60),
    updated: ago(1),
    heartbeatSeconds: 10,
    state: 'running',
    jobsDone: 0,
    ...w,
  };
}

interface Case {
  name: string;
  done: number[];
  workers: () => WorkerRecord[];
  state: RunStatus['state'];
  fraction: number;
  label?: RegExp;
  message?: RegExp;
  /** The run's ETA: the longest of the live workers' own. */
  eta?: number | null;
}

/** Three jobs of 10, 10 and 20 steps. */
const CASES: Case[] = [
  {
    name: 'a live worker in the middle of the last job: running, steps done over all steps',
    done: [0],
    workers: () => [
      worker('shard-1-a', { job: { index: 2, step: 5, steps: 20, label: 'aft seed 0 β=1' }, etaSeconds: 12 }),
      worker('shard-0-a', { etaSeconds: 30, updated: ago(3) }),
    ],
    state: 'running',
    fraction: 15 / 40,
    eta: 30,
    label: /^1 of 3 jobs done, 2 shards training \(aft seed 0 β=1\)$/,
  },
  {
    name: 'a worker killed mid-job (its pid is gone) and one that finished its share: failed, nobody trains it',
    done: [0, 1],
    workers: () => [
      worker('shard-0-a', { pid: deadPid(), job: { index: 2, step: 5, steps: 20, label: 'x' } }),
      worker('shard-1-a', { state: 'completed', updated: ago(30) }),
    ],
    state: 'failed',
    fraction: 20 / 40,
    message: /^no shard is training it: 2 of 3 jobs done\. Run the missing shards, or `aft run`/,
  },
  {
    name: 'a worker on another host that stopped answering: failed',
    done: [],
    workers: () => [worker('shard-0-b', { host: 'elsewhere', pid: 1, updated: ago(600) })],
    state: 'failed',
    fraction: 0,
    message: /^no shard is training it: 0 of 3 jobs done/,
  },
  {
    name: 'the last worker to end was stopped: cancelled, with its message',
    done: [1],
    workers: () => [
      worker('shard-0-a', { state: 'failed', updated: ago(20), message: 'disk full' }),
      worker('shard-1-a', { state: 'cancelled', updated: ago(5), message: 'cancelled by the user' }),
    ],
    state: 'cancelled',
    fraction: 10 / 40,
    message: /^no shard is training it: 1 of 3 jobs done; last: shard-1-a: cancelled by the user\./,
  },
  {
    name: 'no worker record at all: failed',
    done: [],
    workers: () => [],
    state: 'failed',
    fraction: 0,
    message: /^no shard is training it: 0 of 3 jobs done\./,
  },
];

function runFolder(c: Case): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-shard-status-'));
  const plan: ShardPlanRecord = {
    format: 'aft-shard-plan',
    version: 1,
    runId: 'r',
    hash: 'h',
    count: 2,
    jobs: [10, 10, 20].map((steps, index) => ({ index, method: 'aft', seed: 0, phase: 'final', steps, needs: [] })),
    created: ago(60),
  };
  fs.writeFileSync(path.join(dir, SHARD_PLAN_FILE), JSON.stringify(plan));
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify({ ...newRunStatus('r', 'e'), pid: deadPid(), updated: ago(3600), sharded: { count: 2, hash: 'h' } }),
  );
  fs.mkdirSync(path.join(dir, JOBS_DIR));
  fs.mkdirSync(path.join(dir, WORKERS_DIR));
  for (const k of c.done) fs.writeFileSync(path.join(dir, JOBS_DIR, `${k}.json`), '{}');
  for (const w of c.workers()) fs.writeFileSync(path.join(dir, WORKERS_DIR, `${w.worker}.json`), JSON.stringify(w));
  return dir;
}

describe('a sharded run as readers see it', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const s = readRunStatus(runFolder(c));
      assert.equal(s.state, c.state, s.message);
      assert.ok(Math.abs((s.progress?.fraction ?? -1) - c.fraction) < 1e-12, JSON.stringify(s.progress));
      if (c.label) assert.match(s.progress?.label ?? '', c.label);
      if (c.eta !== undefined) assert.equal(s.progress?.etaSeconds, c.eta);
      if (c.message) assert.match(s.message ?? '', c.message);
      else assert.equal(s.message, undefined);
    });
  }
});
