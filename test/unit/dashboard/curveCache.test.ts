/**
 * metrics.cols, the binary column cache of metrics.jsonl: the run store writes it, a reader starts
 * from it and parses only later lines, and the dashboard model is the same with or without it. A
 * cache that does not match its metrics.jsonl is ignored, never believed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { MetricsEvent } from '../../../core/common/protocol/events';
import type { MetricsRow } from '../../../core/common/runs/records';
import { CURVE_CACHE_FILE, CurveColumns, decodeCurveCache, encodeCurveCache } from '../../../core/common/runs/curves';
import { RunReader } from '../../../core/node/runs/reader';
import { RunStore } from '../../../core/node/runs/store';
import { RunAccumulator } from '../../../core/common/view/runAccumulator';
import { appendRows, readRunToEnd, row } from './helpers';

const ws = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-cols-'));

function event(method: string, seed: number, step: number, extra: Partial<MetricsEvent> = {}): MetricsEvent {
  const ce = 1 / step;
  return {
    type: 'metrics',
    runId: 'r',
    method,
    seed,
    beta: 1,
    phase: 'final',
    step,
    epoch: step / 4,
    ce,
    reg: 0.1,
    loss: ce + 0.1,
    trainAccuracy: 0.5,
    evalAccuracy: 0.6,
    lr: 0.001,
    timestamp: step,
    ...extra,
  };
}

/** A run written through the store: aft with ρ summaries (a source appearing late), stl without, a NaN loss. */
function writeRun(store: RunStore, steps: number): void {
  for (let step = 1; step <= steps; step++) {
    store.appendMetrics(event('stl', 0, step, step === 3 ? { loss: NaN } : {}));
    const rho = {
      teacher: { mean: 0.5 + step / 1000, min: 0, max: 1 },
      ...(step > 5 ? { noise: { mean: 0.5 - step / 1000, min: 0, max: 1 } } : {}),
    };
    store.appendMetrics(event('aft', 1, step, { rho }));
  }
}

/** Everything the dashboard gets from the run folder, read to the end. */
function readAll(dir: string): { view: unknown; problems: string[]; fromCache: boolean } {
  const { series, problems, fromCache } = readRunToEnd(dir, 50);
  return { view: series, problems, fromCache };
}

describe('metrics column cache (metrics.cols)', () => {
  it('round-trips columns, gaps and NaN exactly', () => {
    const curves = new CurveColumns();
    const parse = (line: string): MetricsRow => JSON.parse(line) as MetricsRow;
    const rows = [1, 2, 3].map((s): MetricsRow => ({
      ...parse(row('aft', 0, s, s === 2 ? { rho: { t: { mean: 0.25, min: 0, max: 1 } } } : {})),
      ce: s === 3 ? NaN : 1 / s,
    }));
    curves.add(rows);
    const bytes = encodeCurveCache(curves, { bytes: 10, lines: 3, tail: 'abcd' });
    const back = decodeCurveCache(bytes);
    assert.deepEqual(back.cover, { bytes: 10, lines: 3, tail: 'abcd' });
    const [s] = back.series;
    assert.deepEqual([...s.step.view()], [1, 2, 3]);
    assert.deepEqual([...s.columns.get('ce')!.view()], [1, 0.5, NaN]);
    assert.deepEqual([...s.columns.get('rho:t')!.view()], [NaN, 0.25, NaN]);
    // A loaded column grows like any other, without touching its neighbour.
    s.add(parse(row('aft', 0, 4)));
    assert.deepEqual([...s.step.view()], [1, 2, 3, 4]);
    assert.equal(s.columns.get('loss')!.view().length, 4);
  });

  const corrupt: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
    ['empty', () => new Uint8Array(0), /bad magic/],
    ['another file', () => new TextEncoder().encode('{"hello": 1}'), /bad magic/],
    ['truncated', (b) => b.subarray(0, b.length - 8), /expected \d+ bytes, found \d+/],
    ['header cut', (b) => b.subarray(0, 20), /truncated header|not JSON/],
  ];
  for (const [name, mangle, error] of corrupt) {
    it(`refuses a cache that is ${name}`, () => {
      const curves = new CurveColumns();
      curves.add([JSON.parse(row('aft', 0, 1)) as MetricsRow]);
      assert.throws(() => decodeCurveCache(mangle(encodeCurveCache(curves, { bytes: 1, lines: 1, tail: '' }))), error);
    });
  }

  it('the store writes it when the run ends, and a reader then gives what parsing the JSON gives', () => {
    const store = RunStore.create(ws(), 'exp', {}, '');
    writeRun(store, 300);
    store.finish('completed');
    assert.ok(fs.existsSync(path.join(store.dir, CURVE_CACHE_FILE)));
    const cached = readAll(store.dir);
    assert.equal(cached.fromCache, true);
    assert.deepEqual(cached.problems, []);
    fs.rmSync(path.join(store.dir, CURVE_CACHE_FILE));
    const parsed = readAll(store.dir);
    assert.equal(parsed.fromCache, false);
    assert.deepEqual(cached.view, parsed.view);
  });

  it('a reader takes the cache and then the lines written after it', () => {
    const store = RunStore.create(ws(), 'exp', {}, '');
    writeRun(store, 40);
    store.writeCurveCache();
    writeRun(store, 10); // steps 1..10 again: more rows after the cached ones
    const cached = readAll(store.dir);
    assert.equal(cached.fromCache, true);
    fs.rmSync(path.join(store.dir, CURVE_CACHE_FILE));
    assert.deepEqual(cached.view, readAll(store.dir).view);
  });

  const stale: [string, (dir: string) => void, RegExp][] = [
    [
      'metrics.jsonl was shortened',
      (dir) => fs.truncateSync(path.join(dir, 'metrics.jsonl'), 100),
      /covers \d+ bytes of metrics\.jsonl, which has 100/,
    ],
    [
      'metrics.jsonl was replaced by another run’s',
      (dir) =>
        fs.writeFileSync(
          path.join(dir, 'metrics.jsonl'),
          Array.from({ length: 300 }, (_, i) => row('kd', 0, i + 1) + '\n').join(''),
        ),
      /not the file it was made from/,
    ],
    ['the cache is garbage', (dir) => fs.writeFileSync(path.join(dir, CURVE_CACHE_FILE), 'garbage'), /bad magic/],
  ];
  for (const [name, spoil, why] of stale) {
    it(`ignores the cache, says so, and parses the JSON when ${name}`, () => {
      const store = RunStore.create(ws(), 'exp', {}, '');
      writeRun(store, 100);
      store.finish('completed');
      spoil(store.dir);
      const r = readAll(store.dir);
      assert.equal(r.fromCache, false);
      assert.ok(
        r.problems.some((p) => p.includes(CURVE_CACHE_FILE) && why.test(p)),
        r.problems.join('\n'),
      );
      fs.rmSync(path.join(store.dir, CURVE_CACHE_FILE));
      assert.deepEqual(r.view, readAll(store.dir).view);
    });
  }

  it('a metrics file that shrinks (replaced) resets the series instead of doubling them', () => {
    const dir = path.join(ws(), 'run');
    fs.mkdirSync(dir);
    appendRows(
      dir,
      Array.from({ length: 20 }, (_, i) => row('aft', 0, i + 1)),
    );
    const reader = new RunReader(dir);
    const acc = new RunAccumulator('r', dir);
    acc.apply(reader.poll());
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '');
    appendRows(
      dir,
      Array.from({ length: 5 }, (_, i) => row('aft', 0, i + 1)),
    );
    const c = reader.poll();
    assert.equal(c.reset, true);
    acc.apply(c);
    assert.deepEqual(
      acc.snapshot().series.map((s) => s.rows),
      [5],
    );
  });
});
