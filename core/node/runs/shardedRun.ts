/**
 * Creating or joining a sharded run folder (docs/sharding.md). Every shard of one plan computes
 * the same folder name, so n processes started at once by a job array land in one folder: the
 * first to rename its staged folder into place creates it (status.json, the experiment files,
 * shard.json), the others find it there and join, after checking that it is the same plan (its
 * hash) split the same way (its count).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStatus } from '../../common/runs/records';
import type { Experiment } from '../experiment/schema';
import { badInput } from '../../common/util/errors';
import { removeQuietly, tempName, writeFileAtomic, writeJsonAtomic } from '../util/fsx';
import {
  CLAIMS_DIR,
  JOBS_DIR,
  readShardPlan,
  SHARD_PLAN_FILE,
  WORKERS_DIR,
  type ShardPlanRecord,
} from './shardRecords';
import { newRunStatus, removeStaleRunTemps, RUNS_DIR, runFolderError } from './store';

/**
 * The plan's hash: the resolved experiment (defaults filled in, paths absolute, the options
 * applied), less `backend`, which changes speed and not the plan (a shard on a GPU machine and one
 * on a CPU machine share a run).
 */
export function planHash(resolvedExperiment: Experiment): string {
  const { backend: _backend, ...plan } = resolvedExperiment;
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

/**
 * The default folder name of a sharded run: the experiment's name. Not the plan's hash, so that a
 * shard started from an edited file (a job array's task that started after the edit) finds the
 * run and is refused, instead of starting a second run beside it.
 */
export function shardedRunId(experiment: string): string {
  return `${experiment}-shards`;
}

/** A run id given with --run-id: a folder name, nothing else. */
export function checkRunId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(id) || id.includes('.tmp-'))
    throw badInput(
      `--run-id expects a folder name of letters, digits, '.', '_' and '-' (e.g. exp-$SLURM_ARRAY_JOB_ID), got '${id}'`,
      { file: 'aft run', field: '--run-id' },
    );
  return id;
}

export interface ShardedRunSpec {
  workspaceDir: string;
  /** The folder that receives the run folder (default `<workspace>/.aft/runs`; a study's `runs/`). */
  root?: string;
  runId: string;
  experimentName: string;
  resolvedExperiment: unknown;
  sourceText: string;
  /** shard.json of this process's plan (its `count` is checked only when `checkCount`). */
  plan: ShardPlanRecord;
  /** Whether this process runs a shard (its n must match); a plain run completing the rest does not. */
  checkCount: boolean;
  /** A worker record written into the folder before it appears, so that a new folder is never read without a live worker. */
  firstWorker: { file: string; record: unknown };
}

/** The run folder of `spec`, created now or joined; `created` says which. */
export function createOrJoinShardedRun(spec: ShardedRunSpec): { dir: string; created: boolean; status: RunStatus } {
  const root = spec.root ?? path.join(spec.workspaceDir, RUNS_DIR);
  const dir = path.join(root, spec.runId);
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (e) {
    throw runFolderError(root, spec.workspaceDir, e);
  }
  removeStaleRunTemps(root);
  if (!fs.existsSync(dir)) {
    const staging = tempName(dir);
    const status: RunStatus = {
      ...newRunStatus(spec.runId, spec.experimentName),
      sharded: { count: spec.plan.count, hash: spec.plan.hash },
    };
    try {
      fs.mkdirSync(staging);
      for (const sub of [CLAIMS_DIR, JOBS_DIR, WORKERS_DIR]) fs.mkdirSync(path.join(staging, sub));
      writeJsonAtomic(path.join(staging, 'status.json'), status);
      writeFileAtomic(path.join(staging, 'experiment.source.yaml'), spec.sourceText);
      writeJsonAtomic(path.join(staging, 'experiment.json'), spec.resolvedExperiment);
      writeJsonAtomic(path.join(staging, SHARD_PLAN_FILE), spec.plan);
      writeJsonAtomic(path.join(staging, path.relative(dir, spec.firstWorker.file)), spec.firstWorker.record);
    } catch (e) {
      removeQuietly(staging);
      throw runFolderError(staging, spec.workspaceDir, e);
    }
    try {
      fs.renameSync(staging, dir);
      return { dir, created: true, status };
    } catch (e) {
      removeQuietly(staging);
      const code = (e as NodeJS.ErrnoException).code;
      // Another shard created it first: join it below.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw runFolderError(dir, spec.workspaceDir, e);
    }
  }
  return { dir, created: false, status: joinChecks(dir, spec) };
}

/** Refuses to join a folder of another plan, or one split into another number of shards. */
function joinChecks(dir: string, spec: ShardedRunSpec): RunStatus {
  const where = { file: path.join(dir, SHARD_PLAN_FILE), field: 'hash' };
  if (!fs.existsSync(path.join(dir, SHARD_PLAN_FILE)))
    throw badInput(
      `the run folder ${dir} exists and is not a sharded run (it has no ${SHARD_PLAN_FILE}); give another --run-id`,
      where,
    );
  const plan = readShardPlan(dir);
  if (plan.hash !== spec.plan.hash)
    throw badInput(
      `the sharded run ${spec.runId} was planned from another experiment file or other options (plan hash ${plan.hash.slice(0, 12)}, this one ${spec.plan.hash.slice(0, 12)}): every shard must run the same file with the same --seeds/--steps/--methods. Run it with the file it started from, or give another --run-id for a new run`,
      where,
    );
  if (spec.checkCount && plan.count !== spec.plan.count)
    throw badInput(
      `the sharded run ${spec.runId} is split into ${plan.count} shards, and this one says --shard i/${spec.plan.count}: every shard must give the same n (or run \`aft run\` without --shard to complete it)`,
      { ...where, field: '--shard' },
    );
  return JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')) as RunStatus;
}
