/**
 * Runs a study: each value's experiment as its own run inside the study folder, one after another
 * in this process (the dataset loaders, the built-in teacher and the feature cache are shared
 * through their caches), with progress and an ETA over the whole study. `aft run` on the same
 * file continues an unfinished study, keeping its completed runs; a changed file is refused.
 */
import type { EventSink, RunEvent, RunSummary } from '../../../core/common/protocol/events';
import { badInput, BusyError } from '../../../core/common/util/errors';
import type { ExpandedStudy } from '../../../core/node/experiment/validate';
import {
  createStudy,
  isStudyDir,
  listStudies,
  readStudy,
  STUDY_RUNS,
  studyHash,
  studyStem,
  type StudyInfo,
} from '../../../core/node/runs/studies';
import { valueRunPrefix } from '../../../core/common/runs/study';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Shard } from '../../../core/common/protocol/rpc';
import { checkRunId } from '../../../core/node/runs/shardedRun';
import { SHARD_PLAN_FILE } from '../../../core/node/runs/shardRecords';
import { RUNS_DIR } from '../../../core/node/runs/store';
import { runShard } from '../train/shards/runShard';
import { applyOverrides, runExperiment, type ExperimentInput, type RunOptions } from '../train/run';

export interface StudyInput extends ExperimentInput {
  /** Absolute path of the experiment file: a study is resumed by running the same file again. */
  file: string;
  study: ExpandedStudy;
}

export interface StudyOptions extends RunOptions {
  /** Start a new study even when an unfinished one of this file exists (which is then left as it is). */
  newStudy?: boolean;
  /** Shard i of n of every value's run: the study's values × jobs split as a sharded run's jobs (docs/sharding.md). */
  shard?: Shard;
  /** A sharded study's folder name (default `<name>-study-shards`). */
  runId?: string;
}

export interface StudyOutcome {
  studyId: string;
  dir: string;
  /** Whether an unfinished study was continued. */
  resumed: boolean;
  /** Each value's completed run, in value order. */
  runs: { index: number; label: string; runId: string; dir: string; summary: RunSummary }[];
}

/**
 * The study to run: the newest unfinished study of this file when its hash matches (a resume), a
 * new one when there is none, it is complete, or `newStudy` is asked for. An unfinished study of
 * a changed file is refused, so that runs of two versions of a file never mix in one figure.
 */
export function openStudy(
  input: StudyInput,
  workspaceDir: string,
  hash: string,
  newStudy: boolean,
): { info: StudyInfo; resumed: boolean } {
  const previous = listStudies(workspaceDir).find((s) => s.record.file === input.file);
  if (previous && previous.state !== 'completed' && !newStudy) {
    const id = previous.record.studyId;
    if (previous.state === 'running')
      throw new BusyError(`study ${id} of ${path.basename(input.file)} is running; stop it or wait for it to finish`);
    if (previous.record.hash !== hash)
      throw badInput(
        `the study ${id} (${previous.done} of ${previous.values.length} values done) was started from another version of this file (or other --seeds/--steps/--methods), so its runs and new ones would not belong in one figure. Restore the file to continue it, or start a new study with --new-study (the unfinished one is kept as it is)`,
        { file: input.file, field: 'study' },
      );
    return { info: previous, resumed: true };
  }
  const s = input.study;
  return {
    info: createStudy(
      workspaceDir,
      { experiment: input.experiment.name, file: input.file, hash, vary: s.vary, kind: s.kind, values: s.values },
      input.sourceText,
    ),
    resumed: false,
  };
}

/**
 * The folder of a sharded study, which every shard computes (`--run-id`, else `<name>-study-shards`):
 * created by the first shard, joined by the others; one of another file or options is refused.
 */
export function openShardedStudy(
  input: StudyInput,
  workspaceDir: string,
  hash: string,
  runId: string | undefined,
): { info: StudyInfo; resumed: boolean } {
  const id = runId !== undefined ? checkRunId(runId) : `${studyStem(input.experiment.name)}-shards`;
  const dir = path.join(workspaceDir, RUNS_DIR, id);
  const s = input.study;
  const existed = isStudyDir(dir);
  const info = existed
    ? readStudy(dir)
    : createStudy(
        workspaceDir,
        { experiment: input.experiment.name, file: input.file, hash, vary: s.vary, kind: s.kind, values: s.values },
        input.sourceText,
        id,
      );
  if (info.record.hash !== hash)
    throw badInput(
      `the sharded study ${id} was started from another version of this file or other options (--seeds/--steps/--methods): every shard must run the same file with the same options. Restore the file, or give another --run-id for a new study`,
      { file: path.join(dir, 'study.json'), field: 'hash' },
    );
  return { info, resumed: existed };
}

export async function runStudy(input: StudyInput, opts: StudyOptions): Promise<StudyOutcome> {
  // Every value with the options applied is checked before anything runs or is written.
  const experiments = input.study.experiments.map((e) => applyOverrides(e, opts));
  const hash = studyHash(input.sourceText, { seeds: opts.seeds, steps: opts.steps, methods: opts.methods });
  const sharded = opts.shard !== undefined || opts.runId !== undefined;
  const { info, resumed } = sharded
    ? openShardedStudy(input, opts.workspaceDir, hash, opts.runId)
    : openStudy(input, opts.workspaceDir, hash, opts.newStudy ?? false);
  const { studyId } = info.record;
  const n = info.values.length;
  const sink: EventSink = opts.sink ?? (() => undefined);
  const log = (message: string): void => sink({ type: 'log', level: 'info', message, timestamp: Date.now() });
  log(
    `study ${studyId}: ${input.study.vary} over ${n} values (${info.record.kind}); ${resumed ? `continuing, ${info.done} done` : 'new'}: ${info.dir}`,
  );
  const secondsPerValue: number[] = [];
  let done = info.done;
  for (const value of info.values) {
    if (value.state === 'completed' && value.summary) {
      log(`study value ${value.index + 1}/${n} (${value.label}): kept ${value.runId}`);
      continue;
    }
    log(`study value ${value.index + 1}/${n}: ${input.study.vary} = ${value.label}`);
    const t0 = performance.now();
    const before = done;
    const remainingAfter = info.values.filter((v) => v.index > value.index && v.state !== 'completed').length;
    const position = { studyId, studyDir: info.dir, value: value.index, values: n, label: value.label };
    const withStudy = (e: RunEvent): RunEvent => {
      if (e.type === 'status') return { ...e, study: position };
      if (e.type !== 'progress') return e;
      const elapsed = (performance.now() - t0) / 1000;
      const thisRun = e.etaSeconds !== null ? elapsed + e.etaSeconds : null;
      const perValue = secondsPerValue.length
        ? secondsPerValue.reduce((a, b) => a + b, 0) / secondsPerValue.length
        : thisRun;
      const eta = e.etaSeconds !== null && perValue !== null ? e.etaSeconds + remainingAfter * perValue : null;
      return { ...e, study: { ...position, fraction: (before + e.fraction) / n, etaSeconds: eta } };
    };
    const { seeds: _s, steps: _t, methods: _m, shard, runId: _id, newStudy: _n, ...rest } = opts;
    const valueInput = { experiment: experiments[value.index], baseDir: input.baseDir, sourceText: input.sourceText };
    const root = path.join(info.dir, STUDY_RUNS);
    // A value's sharded run (values × jobs): trained by this shard's share, or completed by a plain run.
    const shardedId = `${valueRunPrefix(value.index)}-shards`;
    if (shard || fs.existsSync(path.join(root, shardedId, SHARD_PLAN_FILE))) {
      await runShard(valueInput, {
        ...rest,
        ...(shard ? { shard } : {}),
        runId: shardedId,
        sink: (e) => sink(withStudy(e)),
        place: { root },
      });
    } else
      await runExperiment(valueInput, {
        ...rest,
        sink: (e) => sink(withStudy(e)),
        place: { root, idPrefix: valueRunPrefix(value.index) },
      });
    secondsPerValue.push((performance.now() - t0) / 1000);
    done++;
  }
  const final = readStudy(info.dir);
  const runs = final.values.flatMap((v) =>
    v.summary && v.runId && v.runDir
      ? [{ index: v.index, label: v.label, runId: v.runId, dir: v.runDir, summary: v.summary }]
      : [],
  );
  log(`study ${studyId}: ${final.state} (${final.done} of ${n} values): ${info.dir}`);
  return { studyId, dir: info.dir, resumed, runs };
}
