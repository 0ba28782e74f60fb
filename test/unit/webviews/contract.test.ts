/** The extension ↔ webview contract: the host's validation of webview messages, the reducer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyUpdate,
  isHostMessage,
  parseWebviewMessage,
  safeFileName,
  type RunView,
  type SeriesData,
} from '../../../core/common/protocol/webview';

describe('parseWebviewMessage', () => {
  const ok: [string, unknown][] = [
    ['ready', { type: 'ready', view: 'dashboard' }],
    ['ready from the study view', { type: 'ready', view: 'study' }],
    ['ready with what the charts draw', { type: 'ready', view: 'dashboard', chartPoints: 952 }],
    ['charts grown', { type: 'chartPoints', points: 1200 }],
    ['png export', { type: 'export', format: 'png', fileName: 'a.png', data: 'iVBORw0KGgo=' }],
    ['csv export', { type: 'export', format: 'csv', fileName: 'a', data: 'a,b\r\n1,2\r\n' }],
    [
      'a full-resolution curves export',
      { type: 'exportCurves', fileName: 'run-loss.csv', curves: [{ series: 'aft/0/final/10', curve: 'loss' }] },
    ],
    ['ready of the experiments table', { type: 'ready', view: 'table' }],
    ['runs to compare', { type: 'openRuns', action: 'compare', runIds: ['a-20260101-000000-abcd', 'b'] }],
    ['a run to show', { type: 'openRuns', action: 'dashboard', runIds: ['a'] }],
    ['refresh', { type: 'refresh' }],
  ];
  for (const [name, raw] of ok) it(`accepts ${name}`, () => assert.ok(parseWebviewMessage(raw).ok));

  const bad: [string, unknown, RegExp][] = [
    ['null', null, /expected a message object, got null/],
    [
      'an unknown type',
      { type: 'run' },
      /expected a message type 'ready', 'chartPoints', 'export', 'exportCurves', 'openRuns' or 'refresh', got "run"/,
    ],
    [
      'ready with chart points that are not a count',
      { type: 'ready', view: 'dashboard', chartPoints: 12.5 },
      /ready: expected chartPoints as a whole number from 1 to 50000, got 12.5/,
    ],
    [
      'ready with chart points as text',
      { type: 'ready', view: 'dashboard', chartPoints: '600' },
      /ready: expected chartPoints as a whole number from 1 to 50000, got "600"/,
    ],
    [
      'chart points of zero',
      { type: 'chartPoints', points: 0 },
      /chartPoints: expected points as a whole number from 1 to 50000, got 0/,
    ],
    [
      'chart points beyond any screen',
      { type: 'chartPoints', points: 1e9 },
      /chartPoints: expected points as a whole number from 1 to 50000, got 1000000000/,
    ],
    [
      'curves that are not refs',
      { type: 'exportCurves', fileName: 'a', curves: [{ series: 1, curve: 'loss' }] },
      /curves\[0\] is not \{series, curve\}/,
    ],
    ['no curves', { type: 'exportCurves', fileName: 'a', curves: [] }, /expected 1 to 10000 curves/],
    ['ready for another view', { type: 'ready', view: 'x' }, /ready: expected view/],
    [
      'an unknown format',
      { type: 'export', format: 'exe', fileName: 'a', data: '' },
      /format png, svg or csv, got "exe"/,
    ],
    ['png that is not base64', { type: 'export', format: 'png', fileName: 'a', data: '<svg>' }, /not base64/],
    [
      'data that is not a string',
      { type: 'export', format: 'csv', fileName: 'a', data: 5 },
      /data as a string, got number/,
    ],
    ['an empty file name', { type: 'export', format: 'csv', fileName: '', data: '' }, /fileName of 1 to 200/],
    [
      'runs to delete',
      { type: 'openRuns', action: 'delete', runIds: ['a'] },
      /action 'compare' or 'dashboard', got "delete"/,
    ],
    ['no runs to open', { type: 'openRuns', action: 'compare', runIds: [] }, /expected runIds as 1 to 100000 run ids/],
    ['run ids that are not strings', { type: 'openRuns', action: 'compare', runIds: [3] }, /expected runIds/],
  ];
  for (const [name, raw, re] of bad) {
    it(`rejects ${name}, saying why`, () => {
      const r = parseWebviewMessage(raw);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, re);
    });
  }
});

describe('isHostMessage', () => {
  it('recognises each host message and nothing else', () => {
    assert.ok(isHostMessage({ type: 'run', run: { series: [], rho: [] } }));
    assert.ok(isHostMessage({ type: 'update', runId: 'r' }));
    assert.ok(isHostMessage({ type: 'compare', runs: [] }));
    assert.ok(isHostMessage({ type: 'table', runs: [] }));
    assert.ok(!isHostMessage({ type: 'table' }));
    assert.ok(isHostMessage({ type: 'study', study: { record: {}, values: [] } }));
    assert.ok(!isHostMessage({ type: 'study', study: { values: [] } }));
    assert.ok(isHostMessage({ type: 'error', message: 'x' }));
    assert.ok(!isHostMessage({ type: 'ready', view: 'dashboard' }));
    assert.ok(!isHostMessage({ type: 'run' }));
    assert.ok(!isHostMessage('run'));
  });
});

describe('safeFileName', () => {
  it('keeps a plain name and sets the extension', () =>
    assert.equal(safeFileName('run-1-loss', 'png'), 'run-1-loss.png'));
  it('drops path separators and odd characters', () =>
    assert.equal(safeFileName('../../etc/passwd', 'csv'), 'etc_passwd.csv'));
  it('does not double the extension', () => assert.equal(safeFileName('a.svg', 'svg'), 'a.svg'));
  it('falls back to chart', () => assert.equal(safeFileName('///', 'svg'), 'chart.svg'));
});

describe('applyUpdate', () => {
  const series = (id: string, rows: number): SeriesData => ({
    id,
    method: id,
    seed: 0,
    phase: 'final',
    beta: 0,
    rows,
    curves: {},
  });
  const run: RunView = {
    runId: 'r',
    location: '/x/r',
    status: { runId: 'r', experiment: 'e', state: 'running', started: '', updated: '' },
    series: [series('a', 1), series('b', 1)],
    rho: [{ method: 'aft', seed: 0, segments: [], values: [] }],
    maxPoints: 2000,
  };

  it('replaces series and ρ by key, adds new ones, keeps the rest', () => {
    const next = applyUpdate(run, {
      type: 'update',
      runId: 'r',
      series: [series('b', 5), series('c', 1)],
      rho: [{ method: 'aft', seed: 0, segments: [], values: [1] }],
    });
    assert.deepEqual(
      next.series.map((s) => [s.id, s.rows]),
      [
        ['a', 1],
        ['b', 5],
        ['c', 1],
      ],
    );
    assert.deepEqual(next.rho[0].values, [1]);
    assert.equal(next.status, run.status);
  });

  it('ignores an update for another run', () => {
    assert.equal(applyUpdate(run, { type: 'update', runId: 'other', series: [series('z', 1)] }), run);
  });
});
