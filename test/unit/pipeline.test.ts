/**
 * The extraction pipeline's scheduling (util/pipeline.ts): results in order whatever the runs'
 * timing, at most `depth` runs handed over, the next item prepared while runs are out, and
 * failures reported where they happen, with nothing unhandled when a consumer stops early.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelined } from '../../sidecar/src/util/pipeline';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A runner that records what happened when, running one item at a time like a model's thread. */
function recorder(runMs: (i: number) => number, prepareMs = 1) {
  const events: string[] = [];
  let queue = Promise.resolve();
  let outstanding = 0;
  let mostOutstanding = 0;
  return {
    events,
    most: () => mostOutstanding,
    stages: {
      prepare: async (i: number) => {
        events.push(`prepare ${i}`);
        await sleep(prepareMs);
        return i * 10;
      },
      run: (p: number, i: number) => {
        outstanding++;
        mostOutstanding = Math.max(mostOutstanding, outstanding);
        events.push(`hand over ${i}`);
        const done = queue.then(async () => {
          await sleep(runMs(i));
          outstanding--;
          return p + 1;
        });
        queue = done.then(() => {});
        return done;
      },
    },
  };
}

describe('pipelined', () => {
  const cases: [string, number | undefined, number][] = [
    ['the default depth', undefined, 2],
    ['depth 1 (one run at a time)', 1, 1],
    ['depth 3', 3, 3],
  ];
  for (const [name, depth, most] of cases) {
    it(`yields every result in order, with at most ${most} runs out: ${name}`, async () => {
      const r = recorder((i) => [15, 2, 9, 1, 6, 3][i]);
      const got: [number, number][] = [];
      for await (const { item, result } of pipelined([0, 1, 2, 3, 4, 5], { ...r.stages, ...(depth ? { depth } : {}) }))
        got.push([item, result]);
      assert.deepEqual(
        got,
        [0, 1, 2, 3, 4, 5].map((i) => [i, i * 10 + 1]),
      );
      assert.equal(r.most(), most);
    });
  }

  it('prepares the next item as soon as a run is handed over, not after it finishes', async () => {
    const r = recorder(() => 20);
    for await (const _ of pipelined([0, 1, 2], r.stages)) void _;
    assert.deepEqual(r.events.slice(0, 5), ['prepare 0', 'hand over 0', 'prepare 1', 'hand over 1', 'prepare 2']);
  });

  it('reports a failed run at its place, after the results before it', async () => {
    const got: number[] = [];
    const stages = {
      prepare: (i: number) => Promise.resolve(i),
      run: (p: number) => (p === 2 ? Promise.reject(new Error('run 2 failed')) : sleep(3).then(() => p)),
    };
    await assert.rejects(
      (async () => {
        for await (const { result } of pipelined([0, 1, 2, 3], stages)) got.push(result);
      })(),
      /run 2 failed/,
    );
    assert.deepEqual(got, [0, 1]);
  });

  it('reports a failed prepare, and hands nothing over after it', async () => {
    const handed: number[] = [];
    const stages = {
      prepare: (i: number) => (i === 1 ? Promise.reject(new Error('cannot decode item 1')) : Promise.resolve(i)),
      run: (p: number) => {
        handed.push(p);
        return Promise.resolve(p);
      },
    };
    await assert.rejects(
      (async () => {
        for await (const _ of pipelined([0, 1, 2], stages)) void _;
      })(),
      /cannot decode item 1/,
    );
    assert.deepEqual(handed, [0]);
  });

  it('lets a consumer stop early: runs still out finish on their own, failures unreported', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const stages = {
        prepare: (i: number) => Promise.resolve(i),
        run: (p: number) => sleep(5).then(() => (p >= 1 ? Promise.reject(new Error(`run ${p} failed`)) : p)),
      };
      for await (const { result } of pipelined([0, 1, 2, 3], stages)) {
        assert.equal(result, 0);
        break;
      }
      await sleep(30);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('yields nothing for no items', async () => {
    let calls = 0;
    const stages = { prepare: () => Promise.resolve(calls++), run: () => Promise.resolve(calls++) };
    for await (const _ of pipelined([], stages)) void _;
    assert.equal(calls, 0);
  });
});
