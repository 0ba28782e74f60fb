/**
 * `aft/listRunChanges` (core/node/runs/listingJournal.ts) and the client's copy it keeps up to
 * date (core/common/runs/runListing.ts), on real run folders written by the run store: after each
 * change to the store, a client that applies the answers holds exactly what `runInfos` lists, and
 * an answer carries the rows that changed, not the rest.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { RunListing } from '../../core/common/runs/runListing';
import { RunListingJournal } from '../../core/node/runs/listingJournal';
import { RunStore, runInfos } from '../../core/node/runs/store';
import { writeSyntheticRun, writeSyntheticRuns } from '../helpers/syntheticRuns';

interface Step {
  about: string;
  /** Changes the store; returns the run ids whose rows must be in the next answer. */
  change: (ws: string, dirs: string[]) => string[];
  /** Run ids the next answer must report gone. */
  removed?: (dirs: string[]) => string[];
}

const id = (dir: string): string => path.basename(dir);
/** The run the steps start, advance and stop. */
let live: RunStore | undefined;

const STEPS: Step[] = [
  { about: 'nothing changed: an empty answer', change: () => [] },
  {
    about: 'a new run starts',
    change: (ws, dirs) => {
      live = RunStore.create(ws, 'live', { name: 'live' }, 'name: live\n');
      dirs.push(live.dir);
      return [id(live.dir)];
    },
  },
  {
    about: 'the running run reports progress',
    change: () => {
      live!.heartbeat({ fraction: 0.5, label: 'stl seed 0', etaSeconds: 12 }, true);
      return [id(live!.dir)];
    },
  },
  {
    about: 'the running run is cancelled',
    change: () => {
      live!.finish('cancelled');
      return [id(live!.dir)];
    },
  },
  {
    about: 'a finished run is deleted',
    change: (_ws, dirs) => {
      fs.rmSync(dirs[0], { recursive: true });
      return [];
    },
    removed: (dirs) => [id(dirs.shift()!)],
  },
  {
    about: "a run's summary is damaged in place",
    change: (_ws, dirs) => {
      const done = dirs.find((d) => fs.existsSync(path.join(d, 'summary.json')))!;
      fs.writeFileSync(path.join(done, 'summary.json'), '{"format": "aft-run-summary", "vers');
      return [id(done)];
    },
  },
  {
    about: 'a finished run arrives from elsewhere',
    change: (ws, dirs) => {
      const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-listing-staging-'));
      const made = writeSyntheticRun(staging, 3);
      const to = path.join(ws, '.aft', 'runs', id(made));
      fs.renameSync(made, to);
      fs.rmSync(staging, { recursive: true, force: true });
      dirs.push(to);
      return [id(to)];
    },
  },
];

describe('run listing changes', () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-listing-'));
  after(() => {
    live?.close();
    fs.rmSync(ws, { recursive: true, force: true });
  });
  const dirs = writeSyntheticRuns(ws, 12);
  const journal = new RunListingJournal();
  const client = new RunListing();
  /** A second client that asks only every other step (its answers span two changes). */
  const slow = new RunListing();

  it('the first answer is every run, marked complete', () => {
    const first = journal.changes(ws);
    assert.equal(first.complete, true);
    assert.deepEqual(client.apply(first), runInfos(ws));
    slow.apply(journal.changes(ws));
  });

  for (const [k, step] of STEPS.entries())
    it(step.about, () => {
      const expected = step.change(ws, dirs);
      const gone = step.removed?.(dirs) ?? [];
      const answer = journal.changes(ws, client.cursor);
      assert.equal(answer.complete, false);
      assert.deepEqual(answer.runs.map((r) => r.runId).sort(), [...expected].sort(), 'the rows that changed, only');
      assert.deepEqual(answer.removed, gone);
      assert.deepEqual(client.apply(answer), runInfos(ws), 'the client holds the whole listing');
      if (k % 2 === 1) assert.deepEqual(slow.apply(journal.changes(ws, slow.cursor)), runInfos(ws));
    });

  it("another sidecar's cursor, or a malformed one, gets the whole listing again", () => {
    const other = new RunListingJournal();
    for (const since of [client.cursor, 'nonsense', `${client.cursor!.split(':')[0]}:999999`]) {
      const answer = other.changes(ws, since);
      assert.equal(answer.complete, true, String(since));
      assert.deepEqual(new RunListing().apply(answer), runInfos(ws));
    }
    const again = journal.changes(ws, 'x:1');
    assert.equal(again.complete, true);
    assert.deepEqual(client.apply(again), runInfos(ws));
  });
});
