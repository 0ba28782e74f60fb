/** The webview's `ready` watchdog: reloads a silent page, gives up after the last wait, and leaves alone a page that answered or is hidden. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadyWatchdog } from '../../../extension/src/dashboard/readyWatchdog';
import { FakeTimers } from './helpers';

function watch(waits = [100, 200, 300], startAttempt = 0): { w: ReadyWatchdog; t: FakeTimers; events: string[] } {
  const t = new FakeTimers();
  const events: string[] = [];
  const w = new ReadyWatchdog(
    {
      reload: (n, ms) => events.push(`reload ${n} after ${ms} at ${t.now()}`),
      giveUp: (ms) => events.push(`give up after ${ms} at ${t.now()}`),
    },
    { waits, timers: t, startAttempt },
  );
  return { w, t, events };
}

describe('ReadyWatchdog', () => {
  it('does nothing when ready comes in time', () => {
    const { w, t, events } = watch();
    w.loading();
    t.advance(99);
    w.ready();
    t.advance(10_000);
    assert.deepEqual(events, []);
  });

  it('reloads a silent page with longer waits each time, then gives up once', () => {
    const { w, t, events } = watch();
    w.loading();
    t.advance(10_000);
    assert.deepEqual(events, ['reload 1 after 100 at 100', 'reload 2 after 200 at 300', 'give up after 300 at 600']);
  });

  it('stops waiting when a reloaded page answers, and starts over from the first wait later', () => {
    const { w, t, events } = watch();
    w.loading();
    t.advance(150);
    w.ready();
    t.advance(1000);
    assert.deepEqual(events, ['reload 1 after 100 at 100']);
    w.shown(); // hidden and shown again: the page reloads
    t.advance(100);
    assert.deepEqual(events.at(-1), 'reload 1 after 100 at 1250');
  });

  it('does not count the time a page is hidden', () => {
    const { w, t, events } = watch();
    w.loading();
    t.advance(50);
    w.hidden();
    t.advance(5000);
    assert.deepEqual(events, []);
    w.shown();
    t.advance(99);
    w.ready();
    t.advance(5000);
    assert.deepEqual(events, []);
  });

  it('a panel opened again goes on counting from the attempts of the one it replaces', () => {
    const { w, t, events } = watch([100, 200, 300], 2);
    w.loading();
    t.advance(10_000);
    assert.deepEqual(events, ['give up after 300 at 300']);
  });

  it('does nothing after dispose', () => {
    const { w, t, events } = watch();
    w.loading();
    w.dispose();
    t.advance(10_000);
    w.shown();
    t.advance(10_000);
    assert.deepEqual(events, []);
  });
});
