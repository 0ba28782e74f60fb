/**
 * Sharded run plans (`aft run FILE --shard i/n`, docs/sharding.md) as a job array runs them:
 * separate `aft` processes sharing one workspace. A 60-job plan (β tuning on every seed) run as
 * 4 shards, two of them SIGKILLed in the middle of a job and then re-run or completed by a plain
 * `aft run`, gives the summary and metrics of one process, with every job's result written once;
 * and the refusals: a malformed or out-of-range --shard, another n, another file or other
 * options, and a second process given an index that is running; `aft runs` and `aft stop` on a
 * sharded run; a study's values × jobs as 2 shards; a kill in the summary step.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { RunSummary } from '../../core/common/protocol/events';
import { listRuns, readRunStatus } from '../../core/node/runs/store';
import { listStudies } from '../../core/node/runs/studies';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';
import { aftArgs, runAft } from '../helpers/cli';
import { until } from '../helpers/numeric';

const SEEDS = Array.from({ length: 12 }, (_, i) => i);

/** 12 seeds × (stl + 3 β-tuning jobs of aft + aft) = 60 jobs, a few steps each. */
function experiment(steps = 6, seeds = SEEDS): string {
  return `name: shards
dataset: { source: npy, train: { inputs: x_train.npy, labels: y_train.npy }, test: { inputs: x_test.npy, labels: y_test.npy } }
pretrained:
  - { name: mlp, onnx: { model: model.onnx, output: features, batch: 100 } }
downstream: { model: mlp, hidden: [8] }
methods: [stl, aft]
beta: { aft: [0.1, 1, 10] }
tune: { seeds: all }
seeds: [${seeds.join(', ')}]
train: { steps: ${steps}, batch: 20 }
`;
}

function workspace(text = experiment()): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-shards-'));
  writeArrayWorkspace(ws, { train: 120, test: 40 });
  fs.writeFileSync(path.join(ws, 'exp.aft.yaml'), text);
  return ws;
}

/** `aft ARGS` as a separate process; resolves with its exit code and signal. */
function start(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): { done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, aftArgs(args), {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((r) =>
    child.once('close', (code, signal) => r({ code, signal, stderr })),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

/** A summary without what differs between two runs of the same plan: ids and times. */
function numbers(s: RunSummary): unknown {
  const c = JSON.parse(JSON.stringify(s)) as Record<string, unknown> & RunSummary;
  for (const k of ['runId', 'started', 'finished', 'seconds']) delete c[k];
  for (const m of Object.values(c.methods)) delete (m as Partial<typeof m>).train_seconds;
  return c;
}

/** metrics.jsonl's rows without their timestamps. */
function rows(dir: string): unknown[] {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { timestamp: _t, ...row } = JSON.parse(l) as Record<string, unknown>;
      return row;
    });
}

const summaryOf = (dir: string): RunSummary =>
  JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;

/**
 * Kills the process at the n-th append of a job's metrics: in the middle of that job (after its
 * steps, before its result). The plan is stl's 12 jobs, then per seed aft's 3 tune jobs and its
 * final one, so shard 1's first three jobs are stl jobs no other shard trains (killed in its
 * third), and shard 3 holds every aft final job (killed in its fifth job, whichever it is).
 */
const killAtJob = (nth: number): NodeJS.ProcessEnv => ({
  AFT_TEST_FAULT: JSON.stringify({ match: 'jobs/\\d+\\.g\\d+\\.metrics\\.jsonl$', nth, action: 'kill' }),
});

describe('aft run --shard', () => {
  it('a 60-job plan as 4 shards, two killed mid-job and completed by a re-run and a plain aft run, gives the summary of one process', async () => {
    const ws = workspace();
    const single = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu'], ws);
    assert.equal(single.code, 0, single.stderr);
    const singleDir = listRuns(ws)[0].dir;

    const shards = [0, 1, 2, 3].map((i) =>
      start(
        ['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', `${i}/4`],
        ws,
        i === 1 ? killAtJob(3) : i === 3 ? killAtJob(5) : {},
      ),
    );
    const ends = await Promise.all(shards.map((s) => s.done));
    assert.deepEqual(
      ends.map((e) => e.signal),
      [null, 'SIGKILL', null, 'SIGKILL'],
      ends.map((e) => e.stderr.slice(-400)).join('\n'),
    );
    assert.equal(ends[0].code, 0, ends[0].stderr);
    assert.equal(ends[2].code, 0, ends[2].stderr);
    const dir = listRuns(ws).find((r) => r.dir !== singleDir)!.dir;
    // Nobody trains it now and jobs are missing: neither running nor completed.
    const stalled = readRunStatus(dir);
    assert.equal(stalled.state, 'failed');
    assert.match(stalled.message ?? '', /no shard is training it: \d+ of 60 jobs done/);
    assert.ok(!fs.existsSync(path.join(dir, 'summary.json')));

    const again = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '1/4'], ws);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /shard 1\/4 is done: \d+ jobs? trained here; \d+ of 60 jobs/);
    const rest = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu'], ws);
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stdout, new RegExp(`run folder: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    assert.equal(readRunStatus(dir).state, 'completed');
    assert.deepEqual(numbers(summaryOf(dir)), numbers(summaryOf(singleDir)));
    assert.deepEqual(rows(dir), rows(singleDir));
    // Every job's result once, and no job trained to its end twice (the killed ones died before theirs).
    const results = fs.readdirSync(path.join(dir, 'jobs')).filter((n) => /^\d+\.json$/.test(n));
    assert.equal(results.length, 60);
    const logs = fs
      .readdirSync(path.join(dir, 'workers'))
      .filter((n) => n.endsWith('.log'))
      .map((n) => fs.readFileSync(path.join(dir, 'workers', n), 'utf8'))
      .join('');
    assert.equal(logs.match(/(holdout|test) accuracy [\d.]+%/g)?.length, 60);
    // Each killed shard's job in training was taken over once, by whichever process trained it next.
    assert.equal(logs.match(/job \d+: taken over \(its holder shard-[13]-/g)?.length, 2);
    assert.equal(logs.match(/shard 1\/4: index taken over \(its holder shard-1-/g)?.length, 1);
    assert.equal(fs.readdirSync(path.join(dir, 'checkpoints')).length, 24);
    // A shard started once the run is complete says so and trains nothing.
    const late = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '2/4'], ws);
    assert.equal(late.code, 0, late.stderr);
    assert.equal(listRuns(ws).length, 2);
  });

  it('a study as 2 shards (values × jobs) in one study folder gives each value the summary of a plain study run; an edited file is refused', async () => {
    const study = `${experiment(6, [0, 1])}study: { vary: train.lr, values: [0.001, 0.01] }\n`;
    const ws = workspace(study);
    const plain = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu'], ws);
    assert.equal(plain.code, 0, plain.stderr);
    const ends = await Promise.all(
      [0, 1].map((i) => start(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', `${i}/2`], ws).done),
    );
    for (const e of ends) assert.equal(e.code, 0, e.stderr);
    const studies = listStudies(ws);
    assert.equal(studies.length, 2);
    const sharded = studies.find((s) => s.record.studyId === 'shards-study-shards')!;
    const single = studies.find((s) => s !== sharded)!;
    assert.equal(sharded.state, 'completed');
    for (const v of sharded.values) {
      assert.equal(path.basename(v.runDir!), `value-${v.index}-shards`);
      assert.deepEqual(numbers(v.summary!), numbers(single.values[v.index].summary!));
    }
    fs.writeFileSync(path.join(ws, 'exp.aft.yaml'), study.replace('steps: 6', 'steps: 5'));
    const edited = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '0/2'], ws);
    assert.equal(edited.code, 2, edited.stderr);
    assert.match(edited.stderr, /the sharded study shards-study-shards was started from another version of this file/);
  });

  it('a shard killed while writing the summary: the run reads failed with every job done, and a plain aft run writes the summary', () => {
    const ws = workspace(experiment(6, [0]));
    const killed = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '0/1'], ws, {
      AFT_TEST_FAULT: JSON.stringify({ match: '/summary\\.json$', nth: 1, action: 'kill' }),
    });
    assert.equal(killed.code, null, killed.stderr);
    const dir = path.join(ws, '.aft', 'runs', 'shards-shards');
    const stalled = readRunStatus(dir);
    assert.equal(stalled.state, 'failed');
    assert.match(stalled.message ?? '', /no shard is training it: 5 of 5 jobs done/);
    assert.ok(!fs.existsSync(path.join(dir, 'summary.json')));
    const rest = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu'], ws);
    assert.equal(rest.code, 0, rest.stderr);
    assert.equal(readRunStatus(dir).state, 'completed');
    assert.equal(rows(dir).length, 5);
    assert.match(fs.readFileSync(path.join(dir, 'run.log'), 'utf8'), /summary written by rest-/);
  });

  it('refuses a malformed --shard, another n, another file or options, and a second process on a running index', async () => {
    const ws = workspace(experiment(6, [0]));
    for (const bad of ['4/4', '1', 'a/b', '-1/2', '0/0']) {
      const r = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', `--shard=${bad}`], ws);
      assert.equal(r.code, 2, `--shard ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--shard expects i\/n with 0 <= i < n/);
    }
    const badId = runAft(['run', 'exp.aft.yaml', '--shard', '0/2', '--run-id', '../x'], ws);
    assert.equal(badId.code, 2);
    assert.match(badId.stderr, /--run-id expects a folder name/);

    const first = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '0/2', '--run-id', 'r1'], ws);
    assert.equal(first.code, 0, first.stderr);
    const otherN = runAft(['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '1/3', '--run-id', 'r1'], ws);
    assert.equal(otherN.code, 2, otherN.stderr);
    assert.match(otherN.stderr, /r1 is split into 2 shards, and this one says --shard i\/3/);
    const otherSteps = runAft(
      ['run', 'exp.aft.yaml', '--backend', 'cpu', '--shard', '1/2', '--run-id', 'r1', '--steps', '7'],
      ws,
    );
    assert.equal(otherSteps.code, 2, otherSteps.stderr);
    assert.match(otherSteps.stderr, /shard\.json.*planned from another experiment file or other options/s);
    fs.writeFileSync(path.join(ws, 'other.aft.yaml'), experiment(5, [0]));
    const otherFile = runAft(['run', 'other.aft.yaml', '--backend', 'cpu', '--shard', '1/2', '--run-id', 'r1'], ws);
    assert.equal(otherFile.code, 2, otherFile.stderr);
    assert.match(otherFile.stderr, /planned from another experiment file/);
    // None of the refused ones joined.
    assert.equal(
      fs.readdirSync(path.join(ws, '.aft', 'runs', 'r1', 'workers')).filter((n) => n.endsWith('.json')).length,
      1,
    );

    // A long plan: shard 0 trains, a second process given index 0 is refused, `aft runs` shows it live.
    fs.writeFileSync(path.join(ws, 'long.aft.yaml'), experiment(1_000_000, [0]));
    const running = start(['run', 'long.aft.yaml', '--backend', 'cpu', '--shard', '0/2', '--run-id', 'long'], ws);
    try {
      const dir = path.join(ws, '.aft', 'runs', 'long');
      await until('shard 0 trains', () => {
        try {
          return (readRunStatus(dir).progress?.fraction ?? 0) > 0;
        } catch {
          return false;
        }
      });
      const twice = runAft(['run', 'long.aft.yaml', '--backend', 'cpu', '--shard', '0/2', '--run-id', 'long'], ws);
      assert.equal(twice.code, 1, twice.stderr);
      assert.match(twice.stderr, /shard 0\/2 of long is already running \(shard-0-.*pid \d+/);
      const listed = runAft(['runs'], ws);
      assert.match(listed.stdout, /running +long \d+%/);
      // `aft stop` reaches every shard through the folder; the run then reads cancelled, saying what is left.
      const stop = runAft(['stop', 'long'], ws);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal((await running.done).code, 1);
      const stopped = readRunStatus(dir);
      assert.equal(stopped.state, 'cancelled');
      assert.match(
        stopped.message ?? '',
        /no shard is training it: 0 of 5 jobs done; last: shard-0-.*cancelled by the user/,
      );
    } finally {
      running.kill();
    }
  });
});
