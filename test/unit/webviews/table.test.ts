/** The experiments table's model: columns, the filter language, sorting, grouping, CSV; and the parallel-coordinates scene. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TableMethod, TableRun } from '../../../core/common/protocol/webview';
import {
  cellText,
  defaultColumnIds,
  filterRuns,
  parseFilter,
  sortRuns,
  tableColumns,
  tableCsv,
  tableItems,
  visibleColumns,
} from '../../../core/common/view/table';
import { parallelScene } from '../../../webviews/src/charts/parallelScene';
import { sceneToSvg } from '../../../webviews/src/charts/scene';
import { FALLBACK_THEME } from '../../../webviews/src/charts/theme';

const method = (mean: number, extra: Partial<TableMethod> = {}): TableMethod => ({
  kind: 'x',
  mean,
  se: 0.01,
  beta: 10,
  trainSeconds: 3,
  ...extra,
});

function run(
  id: string,
  experiment: string,
  p: { lr: number; steps: number; seeds?: number[]; student?: string },
  methods: Record<string, TableMethod>,
  extra: Partial<TableRun> = {},
): TableRun {
  return {
    runId: id,
    location: `/ws/.aft/runs/${id}`,
    experiment,
    state: 'completed',
    started: `2026-01-01T00:00:0${id.slice(-1)}Z`,
    params: {
      dataset: 'mnist',
      train: 500,
      test: 2000,
      sources: [
        { name: 'teacher', kind: 'builtin', width: 256 },
        { name: 'noise', kind: 'noise', width: 64 },
      ],
      student: p.student ?? 'mlp 128-64',
      methods: Object.keys(methods),
      lr: p.lr,
      steps: p.steps,
      batch: 128,
      seeds: p.seeds ?? [0, 1, 2],
      backend: 'wasm',
    },
    methods,
    ...extra,
  };
}

const RUNS: TableRun[] = [
  run('r1', 'alpha', { lr: 0.001, steps: 500 }, { stl: method(0.8), aft: method(0.9, { best: 0.92, last: 0.9 }) }),
  run('r2', 'beta', { lr: 0.01, steps: 1000, student: 'cnn 16-32 / 128-64' }, { stl: method(0.85), aft: method(0.84) }),
  run('r3', 'alpha', { lr: 0.003, steps: 200, seeds: [0] }, { stl: method(0.7) }),
  {
    ...run('r4', 'beta', { lr: 0.001, steps: 500 }, {}),
    state: 'failed',
    message: 'status.json is damaged: expected "state"',
    params: undefined,
  },
];
const COLUMNS = tableColumns(RUNS);
const col = (id: string) => COLUMNS.find((c) => c.id === id)!;

describe('experiments table: columns', () => {
  it('has the run and its parameters, then five columns per method in order of first appearance', () => {
    const ids = COLUMNS.map((c) => c.id);
    for (const id of ['experiment', 'state', 'dataset', 'sources', 'psiWidth', 'student', 'lr', 'steps', 'seeds'])
      assert.ok(ids.includes(id), id);
    assert.deepEqual(
      ids.filter((i) => i.includes(':')),
      ['stl', 'aft'].flatMap((m) => ['acc', 'best', 'last', 'beta', 'time'].map((k) => `${k}:${m}`)),
    );
  });

  const cells: [string, number, string][] = [
    ['acc:aft', 0, '90.00 ± 1.00'],
    ['best:aft', 0, '92.00'],
    ['last:aft', 0, '90.00'],
    ['acc:aft', 2, ''],
    ['sources', 0, 'teacher 256, noise 64'],
    ['psiWidth', 0, '320'],
    ['seeds', 0, '0, 1, 2'],
    ['dataset', 0, 'mnist 500/2000'],
    ['lr', 0, '0.001'],
    ['state', 3, 'failed: status.json is damaged: expected "state"'],
    ['student', 3, ''],
  ];
  for (const [id, i, text] of cells)
    it(`shows ${id} of ${RUNS[i].runId} as ${JSON.stringify(text)}`, () =>
      assert.equal(cellText(col(id), RUNS[i]), text));

  it('shows the chosen columns in their order, and adds the default columns of a method first seen later', () => {
    const shown = ['lr', 'acc:stl', 'state'];
    assert.deepEqual(
      visibleColumns(
        COLUMNS,
        shown,
        COLUMNS.map((c) => c.id),
      ).map((c) => c.id),
      shown,
    );
    const more = tableColumns([...RUNS, run('r5', 'g', { lr: 1, steps: 1 }, { kd: method(0.5) })]);
    assert.deepEqual(
      visibleColumns(
        more,
        shown,
        COLUMNS.map((c) => c.id),
      ).map((c) => c.id),
      [...shown, 'acc:kd', 'beta:kd'],
    );
    assert.ok(defaultColumnIds(COLUMNS).includes('acc:aft'));
    assert.ok(!defaultColumnIds(COLUMNS).includes('time:aft'));
  });
});

describe('experiments table: filter', () => {
  const shown = visibleColumns(
    COLUMNS,
    defaultColumnIds(COLUMNS),
    COLUMNS.map((c) => c.id),
  );
  const cases: [string, string[], string[]?][] = [
    ['', ['r1', 'r2', 'r3', 'r4']],
    ['cnn', ['r2']],
    ['CNN', ['r2']],
    ['lr<0.005', ['r1', 'r3']],
    ['lr<=0.003', ['r1', 'r3']],
    ['lr>0.001', ['r2', 'r3']],
    ['lr=0.01', ['r2']],
    ['lr!=0.01', ['r1', 'r3', 'r4']],
    ['acc:aft>=90', ['r1']],
    ['acc:aft>85', ['r1']],
    ['acc:stl<75', ['r3']],
    ['best:aft>91', ['r1']],
    ['seeds=1', ['r3']],
    ['state=failed', ['r4']],
    ['state:fail', ['r4']],
    ['experiment=alpha steps>300', ['r1']],
    ['student:"cnn 16"', ['r2']],
    ['damaged', ['r4']],
    ['nosuch>3', [], ['no column "nosuch"']],
    ['ψwidth=320', ['r1', 'r2', 'r3']],
  ];
  for (const [text, ids, problems] of cases)
    it(`"${text}" keeps ${ids.join(', ') || 'nothing'}`, () => {
      const parsed = parseFilter(text, COLUMNS);
      assert.deepEqual(parsed.problems, problems ?? []);
      assert.deepEqual(
        filterRuns(RUNS, parsed, COLUMNS, shown).map((r) => r.runId),
        ids,
      );
    });
});

describe('experiments table: sort, group, CSV', () => {
  const cases: [string | undefined, 'asc' | 'desc', string[]][] = [
    [undefined, 'asc', ['r4', 'r3', 'r2', 'r1']],
    ['acc:aft', 'asc', ['r2', 'r1', 'r4', 'r3']],
    ['acc:aft', 'desc', ['r1', 'r2', 'r4', 'r3']],
    ['lr', 'asc', ['r1', 'r3', 'r2', 'r4']],
    ['student', 'desc', ['r3', 'r1', 'r2', 'r4']],
    ['experiment', 'asc', ['r3', 'r1', 'r4', 'r2']],
  ];
  for (const [column, dir, ids] of cases)
    it(`sorts by ${column ?? 'start time'} ${dir} (empty cells last, ties newest first)`, () =>
      assert.deepEqual(
        sortRuns(RUNS, column ? { column, dir } : undefined, COLUMNS).map((r) => r.runId),
        ids,
      ));

  it('groups by experiment name, keeping the sorted order within each, and collapses a group to its heading', () => {
    const sorted = sortRuns(RUNS, { column: 'lr', dir: 'asc' }, COLUMNS);
    const items = tableItems(sorted, true, new Set(['beta']));
    assert.deepEqual(
      items.map((i) => (i.kind === 'group' ? `#${i.experiment}:${i.count}:${i.collapsed}` : i.run.runId)),
      ['#alpha:2:false', 'r1', 'r3', '#beta:2:true'],
    );
    assert.deepEqual(
      tableItems(sorted, false).map((i) => (i.kind === 'run' ? i.run.runId : '')),
      ['r1', 'r3', 'r2', 'r4'],
    );
  });

  it('exports the shown columns as values at full precision, with the message of a damaged run and the folder', () => {
    const csv = tableCsv(RUNS, [col('state'), col('lr'), col('acc:aft')]);
    const lines = csv.trim().split('\r\n');
    assert.equal(lines[0], 'state,lr,acc:aft,location');
    assert.equal(lines[1], 'completed,0.001,0.9,/ws/.aft/runs/r1');
    assert.equal(lines[4], '"failed: status.json is damaged: expected ""state""",,,/ws/.aft/runs/r4');
  });
});

describe('parallel coordinates', () => {
  it('draws one line per run through every axis, a gap where a run has no value, labels as text', () => {
    const scene = parallelScene(
      {
        axes: [
          { label: 'lr', values: [0.001, 0.01, 0.003, undefined] },
          { label: 'student', values: ['mlp', 'cnn', 'mlp', undefined] },
        ],
        metric: { label: 'aft <acc>', values: [0.9, 0.84, undefined, undefined] },
        names: ['r1', 'r2', 'r3', 'r4'],
      },
      FALLBACK_THEME,
    );
    const paths = scene.prims.filter((p) => p.k === 'path');
    assert.equal(paths.length, 4);
    for (const p of paths) if (p.k === 'path') assert.equal(p.points.length, 6);
    const r3 = paths.find((p) => p.k === 'path' && p.data?.run === 'r3');
    assert.ok(r3 && r3.k === 'path' && Number.isNaN(r3.points[5]), 'no metric: a gap on the last axis');
    const svg = sceneToSvg(scene);
    assert.ok(svg.includes('aft &lt;acc&gt;') && !svg.includes('<acc>'));
  });
});
