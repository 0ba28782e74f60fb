/** Reading a run folder while it is written: tails, partial lines, bad input, ρ, dead runs. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { RunReader } from '../../../core/node/runs/reader';
import { appendRows, row, tempRun, writeStatus } from './helpers';

describe('RunReader', () => {
  it('returns only new rows, and waits for a line that is still being written', () => {
    const dir = tempRun();
    const r = new RunReader(dir);
    assert.equal(r.poll().rows.length, 0);
    appendRows(dir, [row('aft', 0, 1), row('aft', 0, 2)]);
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), row('aft', 0, 3).slice(0, 20));
    const first = r.poll();
    assert.deepEqual(
      first.rows.map((x) => x.step),
      [1, 2],
    );
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), row('aft', 0, 3).slice(20) + '\n');
    assert.deepEqual(
      r.poll().rows.map((x) => x.step),
      [3],
    );
    assert.equal(r.poll().rows.length, 0);
  });

  it('reads the same rows whatever the slice size, lines longer than a slice included', () => {
    const dir = tempRun();
    appendRows(
      dir,
      Array.from({ length: 500 }, (_, i) => row('aft', i % 3, i + 1, { method: i % 7 ? 'aft' : 'ρ-method' })),
    );
    const all = (chunkBytes: number): string => {
      const r = new RunReader(dir, { chunkBytes, budgetMs: 0 });
      const steps: string[] = [];
      let polls = 0;
      for (let more = true; more; polls++) {
        const c = r.poll();
        assert.deepEqual(c.problems, []);
        steps.push(...c.rows.map((x) => `${x.method}:${x.step}`));
        more = c.more;
      }
      assert.ok(chunkBytes > 10_000 || polls > 1, 'small slices take several polls');
      return steps.join(',');
    };
    const expected = all(1 << 20);
    assert.equal(expected.split(',').length, 500);
    assert.ok(expected.includes('ρ-method:1'), 'UTF-8 names survive');
    for (const size of [64, 1000, 4096]) assert.equal(all(size), expected, `slices of ${size} bytes`);
  });

  it('skips bad lines with their line numbers and keeps the good ones', () => {
    const dir = tempRun();
    appendRows(dir, [row('aft', 0, 1), 'not json', JSON.stringify({ method: 3 }), row('aft', 0, 2)]);
    const c = new RunReader(dir).poll();
    assert.deepEqual(
      c.rows.map((x) => x.step),
      [1, 2],
    );
    assert.equal(c.problems.length, 2);
    assert.match(c.problems[0], /metrics\.jsonl:2: not a JSON object/);
    assert.match(c.problems[1], /metrics\.jsonl:3: expected "method" to be a string, got number/);
  });

  it('reads null values (a diverged run) as gaps', () => {
    const dir = tempRun();
    appendRows(dir, [row('aft', 0, 1, { loss: null })]);
    assert.ok(Number.isNaN(new RunReader(dir).poll().rows[0].loss));
  });

  it('reads a ρ file when it appears or changes, and checks its segments', () => {
    const dir = tempRun();
    const r = new RunReader(dir);
    fs.mkdirSync(path.join(dir, 'rho', 'aft'), { recursive: true });
    const file = path.join(dir, 'rho', 'aft', 'seed-0.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ method: 'aft', seed: 0, segments: [{ name: 't', offset: 0, width: 2 }], values: [0.1, 0.2] }),
    );
    assert.equal(r.poll().rho.length, 1);
    assert.equal(r.poll().rho.length, 0, 'unchanged');
    fs.writeFileSync(
      file,
      JSON.stringify({ method: 'aft', seed: 0, segments: [{ name: 't', offset: 0, width: 3 }], values: [0.1, 0.2] }),
    );
    const c = r.poll();
    assert.equal(c.rho.length, 0);
    assert.match(c.problems[0], /segment "t" covers \[0, 3\) but there are 2 values/);
  });

  it('reports a running run whose process is gone as failed', () => {
    const dir = tempRun('running', 2 ** 22 + 12345);
    const c = new RunReader(dir).poll();
    assert.equal(c.status?.state, 'failed');
    assert.match(c.status?.message ?? '', /ended without finishing/);
  });

  it('returns status again only when it changes', () => {
    const dir = tempRun();
    const r = new RunReader(dir);
    assert.equal(r.poll().status?.state, 'running');
    assert.equal(r.poll().status, undefined);
    fs.writeFileSync(
      path.join(dir, 'summary.json'),
      JSON.stringify({ format: 'aft-run-summary', version: 1, sources: [], methods: {} }),
    );
    writeStatus(dir, 'completed');
    const c = r.poll();
    assert.equal(c.status?.state, 'completed');
    assert.ok(c.summary);
  });
  it("tails a sharded run's job metrics files until its metrics.jsonl exists, and starts over when a job is taken over", () => {
    const dir = tempRun();
    fs.writeFileSync(path.join(dir, 'shard.json'), '{}');
    const jobs = path.join(dir, 'jobs');
    fs.mkdirSync(jobs);
    const job = (k: number, generation: number, lines: string[], partial = ''): void =>
      fs.appendFileSync(
        path.join(jobs, `${k}.g${generation}.metrics.jsonl`),
        lines.map((l) => l + '\n').join('') + partial,
      );
    const steps = (c: ReturnType<RunReader['poll']>): string[] => c.rows.map((x) => `${x.seed}:${x.step}`);
    const r = new RunReader(dir);
    job(0, 0, [row('aft', 0, 1), row('aft', 0, 2)]);
    job(1, 0, [row('aft', 1, 1)], row('aft', 1, 2).slice(0, 15)); // a line being written (or a killed writer's)
    const first = r.poll();
    assert.deepEqual(steps(first), ['0:1', '0:2', '1:1']);
    assert.equal(first.reset, undefined);
    job(0, 0, [row('aft', 0, 3)]);
    assert.deepEqual(steps(r.poll()), ['0:3']);
    // Job 1's process was killed; another took it over (generation 1) and trained it again from
    // the start, past where the first had got to, before this poll.
    job(1, 1, [row('aft', 1, 1), row('aft', 1, 2)]);
    const over = r.poll();
    assert.equal(over.reset, true);
    assert.deepEqual(steps(over), ['0:1', '0:2', '0:3', '1:1', '1:2']);
    assert.deepEqual(over.problems, []);
    // The summary step merged them into metrics.jsonl: read from it, from the start.
    appendRows(dir, [row('aft', 0, 1), row('aft', 0, 2), row('aft', 0, 3), row('aft', 1, 1), row('aft', 1, 2)]);
    const merged = r.poll();
    assert.equal(merged.reset, true);
    assert.deepEqual(steps(merged), ['0:1', '0:2', '0:3', '1:1', '1:2']);
    assert.deepEqual(r.poll().rows, []);
  });
});
