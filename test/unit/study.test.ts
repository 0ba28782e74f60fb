/**
 * Studies: the expansion of a `study:` into one experiment per value (data-driven), the figure
 * data of a study (data-driven), and a tiny study run for real: one folder, every value a
 * completed run, resume after an interruption keeping the finished runs, and a changed file
 * refused (or a new study when asked).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunEvent, RunSummary } from '../../core/common/protocol/events';
import { studyFigure, studyFigureCsv, studyFigureTable, type FigureValue } from '../../core/common/view/studyFigure';
import type { StudyKind } from '../../core/common/runs/study';
import { parseFieldPath } from '../../core/node/experiment/study';
import { validateExperimentText } from '../../core/node/experiment/validate';
import { listStudies, readStudy } from '../../core/node/runs/studies';
import { runInfos } from '../../core/node/runs/store';
import { RunsModel } from '../../extension/src/runs/model';
import { silentLogger } from '../../extension/src/util/log';
import { AftError, CancelledError } from '../../core/common/util/errors';
import { loadExperiment } from '../../sidecar/src/experiment/load';
import { initBackend } from '../../sidecar/src/runtime/tf';
import { runStudy } from '../../sidecar/src/study/runStudy';
import { accuracyBars, accuracyLines, probePoints, rhoLines } from '../../webviews/src/study/model';

const BASE = `name: s
dataset: { source: mnist, train: 60, test: 60 }
pretrained:
  - { name: a, noise: 8 }
  - { name: b, noise: 4 }
downstream: { hidden: [8] }
methods: [stl, kd, { name: aft-rbf, method: aft, kernel: rbf }]
beta: { kd: 1, aft-rbf: 1 }
train: { steps: 12, batch: 16, eval_every: 4 }
seeds: [0, 1]
backend: wasm
`;

interface ExpansionCase {
  name: string;
  study: string;
  kind: StudyKind;
  labels: string[];
  /** What each value's experiment has where the study changes it. */
  pick: (e: NonNullable<ReturnType<typeof validateExperimentText>['experiment']>) => unknown;
  want: unknown[];
}

const EXPANSIONS: ExpansionCase[] = [
  {
    name: 'noise width; 0 leaves the source out',
    study: 'study: { vary: "pretrained[1].noise", values: [0, 16, 1024] }',
    kind: 'noise',
    labels: ['0', '16', '1024'],
    pick: (e) => e.pretrained.map((s) => ('noise' in s ? `${s.name}:${s.noise}` : s.name)),
    want: [['a:8'], ['a:8', 'b:16'], ['a:8', 'b:1024']],
  },
  {
    name: 'dotted list index (a YAML flow mapping needs no quotes)',
    study: 'study: { vary: pretrained.0.noise, values: [2, 3] }',
    kind: 'noise',
    labels: ['2', '3'],
    pick: (e) => e.pretrained.map((s) => ('noise' in s ? s.noise : 0)),
    want: [
      [2, 4],
      [3, 4],
    ],
  },
  {
    name: 'sources in turn, by name',
    study: 'study: { vary: pretrained, values: [b, a] }',
    kind: 'sources',
    labels: ['b', 'a'],
    pick: (e) => e.pretrained.map((s) => s.name),
    want: [['b'], ['a']],
  },
  {
    name: 'subsets of sources',
    study: 'study: { vary: pretrained, values: [[a], [a, b]] }',
    kind: 'subsets',
    labels: ['a', 'a+b'],
    pick: (e) => e.pretrained.map((s) => s.name),
    want: [['a'], ['a', 'b']],
  },
  {
    name: "ablation: a name stands for the file's entry; β of other methods dropped",
    study: 'study: { vary: methods, values: [aft-rbf, kd, [stl, kd]] }',
    kind: 'ablation',
    labels: ['aft-rbf', 'kd', 'stl+kd'],
    pick: (e) => [e.methods, Object.keys(e.beta)],
    want: [
      [[{ name: 'aft-rbf', method: 'aft', kernel: 'rbf' }], ['aft-rbf']],
      [['kd'], ['kd']],
      [['stl', 'kd'], ['kd']],
    ],
  },
  {
    name: 'a method option',
    study: 'study: { vary: "methods[2].kernel", values: [linear, rbf] }',
    kind: 'ablation',
    labels: ['linear', 'rbf'],
    pick: (e) => e.methods[2],
    want: [
      { name: 'aft-rbf', method: 'aft', kernel: 'linear' },
      { name: 'aft-rbf', method: 'aft', kernel: 'rbf' },
    ],
  },
  {
    name: 'any field, filled in where the file left the default',
    study: 'study: { vary: tune.holdout, values: [0.2, 0.3] }',
    kind: 'field',
    labels: ['0.2', '0.3'],
    pick: (e) => e.tune.holdout,
    want: [0.2, 0.3],
  },
  {
    name: 'β of one method',
    study: 'study: { vary: beta.kd, values: [0.5, [1, 2]] }',
    kind: 'field',
    labels: ['0.5', '[1,2]'],
    pick: (e) => e.beta.kd,
    want: [0.5, [1, 2]],
  },
];

describe('study expansion', () => {
  for (const c of EXPANSIONS) {
    it(c.name, () => {
      const r = validateExperimentText(BASE + c.study);
      assert.deepEqual(
        r.problems.filter((p) => p.severity === 'error').map((p) => p.message),
        [],
      );
      assert.ok(r.study);
      assert.equal(r.study.kind, c.kind);
      assert.deepEqual(
        r.study.values.map((v) => v.label),
        c.labels,
      );
      assert.deepEqual(r.study.experiments.map(c.pick), c.want);
      for (const e of r.study.experiments) assert.equal(e.study, undefined);
    });
  }

  it('field paths', () => {
    assert.deepEqual(parseFieldPath('pretrained[1].noise'), ['pretrained', 1, 'noise']);
    assert.deepEqual(parseFieldPath('pretrained.1.noise'), ['pretrained', 1, 'noise']);
    assert.deepEqual(parseFieldPath('train.lr'), ['train', 'lr']);
    for (const bad of ['', '.x', '[0]', 'a..b', 'a[x]', 'a b']) assert.equal(parseFieldPath(bad), undefined, bad);
  });

  it('no study when any value is invalid: nothing would run', () => {
    const r = validateExperimentText(BASE + 'study: { vary: pretrained.1.noise, values: [4, -1] }');
    assert.equal(r.study, undefined);
    assert.equal(r.experiment, undefined);
    assert.deepEqual(
      r.problems.map((p) => [p.line, p.field]),
      [[12, 'study.values[1]']],
    );
  });
});

const summary = (methods: Record<string, [number, number, Record<string, number>?]>, probe?: number): RunSummary => ({
  format: 'aft-run-summary',
  version: 1,
  runId: 'r',
  experiment: 'e',
  dataset: { name: 'd', train: 1, test: 1, classes: 2, inputShape: [1] },
  backend: 'cpu',
  sources: probe === undefined ? [] : [{ name: 'src', kind: 'noise', width: 1, linear_probe_accuracy: probe }],
  methods: Object.fromEntries(
    Object.entries(methods).map(([m, [mean, se, rho]]) => [
      m,
      {
        kind: m,
        test_accuracy: { mean, se, per_seed: { '0': mean - se, '1': mean + se } },
        beta: 1,
        tuning: [],
        ...(rho ? { rho_mean_by_source: rho } : {}),
        train_seconds: 1,
      },
    ]),
  ),
  started: '',
  finished: '',
  seconds: 1,
});

describe('study figure data', () => {
  it('noise: a line per method over the widths, mean ρ per source, a value not yet run left empty', () => {
    const values: FigureValue[] = [
      { index: 0, label: '0', x: 0, summary: summary({ stl: [0.8, 0.01], aft: [0.9, 0.02, { t: 0.7 }] }) },
      { index: 1, label: '64', x: 64, summary: summary({ stl: [0.8, 0.01], aft: [0.88, 0.01, { t: 0.6, n: 0.1 }] }) },
      { index: 2, label: '512', x: 512 },
    ];
    const f = studyFigure({ kind: 'noise', vary: 'pretrained[1].noise' }, values);
    assert.equal(f.shape, 'line');
    assert.deepEqual(f.methods, ['stl', 'aft']);
    assert.deepEqual(
      f.accuracy.aft.map((a) => a?.mean ?? null),
      [0.9, 0.88, null],
    );
    assert.deepEqual(f.rho, [
      { method: 'aft', source: 't', values: [0.7, 0.6, null] },
      { method: 'aft', source: 'n', values: [null, 0.1, null] },
    ]);
    assert.deepEqual(
      f.values.map((v) => v.done),
      [true, true, false],
    );
    const csv = studyFigureCsv(f).trim().split('\r\n');
    assert.equal(csv.length, 1 + 4);
    assert.equal(csv[4], '1,64,64,aft,0.88,0.01,2,,t=0.6 n=0.1');
  });

  it('ablation of single methods: one accuracy column and its ρ per source, not a diagonal', () => {
    const f = studyFigure({ kind: 'ablation', vary: 'methods' }, [
      { index: 0, label: 'aft', summary: summary({ aft: [0.9, 0.01, { t: 0.6, n: 0.1 }] }) },
      { index: 1, label: 'stl', summary: summary({ stl: [0.8, 0.02] }) },
      { index: 2, label: 'kd' },
    ]);
    assert.deepEqual(studyFigureTable(f), [
      ['methods', 'method', 'test accuracy %', 'ρ t', 'ρ n'],
      ['aft', 'aft', '90.00 ± 1.00', '0.600', '0.100'],
      ['stl', 'stl', '80.00 ± 2.00', '–', '–'],
      ['kd', '–', 'not run', '–', '–'],
    ]);
  });

  it("sources: accuracy against each value's source probe, with Pearson r per method", () => {
    const values: FigureValue[] = [0.5, 0.7, 0.9].map((p, i) => ({
      index: i,
      label: 'src',
      summary: summary({ stl: [0.8, 0], aft: [0.6 + p / 4, 0] }, p),
    }));
    const f = studyFigure({ kind: 'sources', vary: 'pretrained' }, values);
    assert.equal(f.shape, 'scatter');
    assert.deepEqual(f.probe?.x, [0.5, 0.7, 0.9]);
    assert.ok(Math.abs((f.probe?.r.aft.r ?? 0) - 1) < 1e-12);
    assert.equal(f.probe?.r.stl.r, null);
  });

  it('as charts: lines with ± SE over the values run, ρ lines, bars named by value, probe points', () => {
    const colors = new Map([
      ['stl', 'blue'],
      ['aft', 'red'],
    ]);
    const noise = studyFigure({ kind: 'noise', vary: 'w' }, [
      { index: 0, label: '0', x: 0, summary: summary({ stl: [0.8, 0.01], aft: [0.9, 0.02, { t: 0.7 }] }) },
      { index: 1, label: '64', x: 64 },
      { index: 2, label: '512', x: 512, summary: summary({ stl: [0.7, 0.01], aft: [0.88, 0.01, { t: 0.6, n: 0.1 }] }) },
    ]);
    assert.deepEqual(
      accuracyLines(noise, colors).map((l) => [l.label, l.color, l.x, l.y, l.err]),
      [
        ['stl', 'blue', [0, 2], [0.8, 0.7], [0.01, 0.01]],
        ['aft', 'red', [0, 2], [0.9, 0.88], [0.02, 0.01]],
      ],
    );
    assert.deepEqual(
      rhoLines(noise, colors).map((l) => [l.label, l.x, l.y]),
      [
        ['ρ t', [0, 2], [0.7, 0.6]],
        ['ρ n', [2], [0.1]],
      ],
    );
    const ablation = studyFigure({ kind: 'ablation', vary: 'methods' }, [
      { index: 0, label: 'aft', summary: summary({ aft: [0.9, 0.01] }) },
      { index: 1, label: 'stl+aft', summary: summary({ stl: [0.8, 0.01], aft: [0.85, 0.01] }) },
    ]);
    assert.deepEqual(
      accuracyBars(ablation, colors).map((b) => [b.method, b.mean, b.color]),
      [
        ['aft', 0.9, 'red'],
        // in the figure's method order (first seen: aft)
        ['stl+aft · aft', 0.85, 'red'],
        ['stl+aft · stl', 0.8, 'blue'],
      ],
    );
    const sources = studyFigure({ kind: 'sources', vary: 'pretrained' }, [
      { index: 0, label: 'src', summary: summary({ aft: [0.9, 0.01] }, 0.7) },
      { index: 1, label: 'other', summary: summary({ aft: [0.8, 0.01] }, 0.6) },
    ]);
    // The second value's source is not named `src`: it has no probe to plot against.
    assert.deepEqual(
      probePoints(sources).map((p) => [p.method, p.run, p.x, p.y]),
      [['aft', 'src', 0.7, 0.9]],
    );
  });

  for (const [kind, x, shape] of [
    ['ablation', undefined, 'bars'],
    ['subsets', undefined, 'bars'],
    ['field', 1e-3, 'line'],
    ['field', undefined, 'bars'],
  ] as const) {
    it(`${kind}${x === undefined ? '' : ' over numbers'}: ${shape}`, () => {
      const v: FigureValue = {
        index: 0,
        label: 'v',
        ...(x !== undefined ? { x } : {}),
        summary: summary({ aft: [0.9, 0.01] }),
      };
      assert.equal(studyFigure({ kind, vary: 'f' }, [v]).shape, shape);
    });
  }
});

describe('a study run', () => {
  before(async () => {
    await initBackend((process.env.AFT_TEST_BACKEND ?? 'wasm') as 'wasm');
  });

  const write = (dir: string, text: string): string => {
    const file = path.join(dir, 'study.aft.yaml');
    fs.writeFileSync(file, text);
    return file;
  };
  const TEXT = `${BASE.replace('methods: [stl, kd, { name: aft-rbf, method: aft, kernel: rbf }]', 'methods: [stl, aft]').replace('beta: { kd: 1, aft-rbf: 1 }', 'beta: { aft: 1 }')}study:\n  vary: pretrained[1].noise\n  values: [0, 4, 8]\n`;
  const start = (file: string, ws: string, events: RunEvent[], signal?: AbortSignal, newStudy?: boolean) => {
    const loaded = loadExperiment(file);
    assert.ok(loaded.study);
    return runStudy(
      { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: loaded.text, file, study: loaded.study },
      {
        workspaceDir: ws,
        sink: (e) => events.push(e),
        ...(signal ? { signal } : {}),
        ...(newStudy ? { newStudy } : {}),
      },
    );
  };

  it('runs every value in one folder, resumes after an interruption, refuses a changed file', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-study-'));
    const file = write(ws, TEXT);
    // Stopped while the second value trains: the first value's run is complete and is kept.
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const stopAtSecond = (e: RunEvent): void => {
      events.push(e);
      if (e.type === 'progress' && e.study?.value === 1 && e.step > 0) controller.abort();
    };
    const loaded = loadExperiment(file);
    assert.ok(loaded.study);
    const input = {
      experiment: loaded.experiment,
      baseDir: loaded.baseDir,
      sourceText: loaded.text,
      file,
      study: loaded.study,
    };
    await assert.rejects(
      runStudy(input, { workspaceDir: ws, sink: stopAtSecond, signal: controller.signal }),
      (e) => e instanceof CancelledError,
    );
    const [stopped] = listStudies(ws);
    assert.equal(stopped.state, 'incomplete');
    assert.equal(stopped.done, 1);
    assert.deepEqual(
      stopped.values.map((v) => v.state),
      ['completed', 'cancelled', undefined],
    );
    const kept = stopped.values[0].runDir;
    // Progress carries the whole study: its fraction and an ETA once a run has measured its speed.
    const progress = events.filter((e) => e.type === 'progress' && e.study);
    assert.ok(progress.length > 0);
    for (const e of progress) if (e.type === 'progress') assert.ok(e.study!.fraction >= 0 && e.study!.fraction <= 1);
    assert.ok(progress.some((e) => e.type === 'progress' && e.study!.etaSeconds !== null));

    // A process killed while it ran a value (kill -9) leaves that run `running` under a dead pid:
    // it reads as failed, so the study is unfinished, not running, and can be continued.
    const cancelledRun = stopped.values[1].runDir!;
    const statusFile = path.join(cancelledRun, 'status.json');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const status = JSON.parse(fs.readFileSync(statusFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(
      statusFile,
      JSON.stringify({ ...status, state: 'running', pid: dead, host: os.hostname(), processStart: undefined }),
    );
    const killed = readStudy(stopped.dir);
    assert.equal(killed.state, 'incomplete');
    assert.equal(killed.values[1].state, 'failed');

    // The file changed meanwhile: refused, and nothing is written.
    write(ws, TEXT.replace('steps: 12', 'steps: 13'));
    await assert.rejects(start(file, ws, []), (e) => {
      assert.ok(e instanceof AftError && e.code === 'bad_input');
      assert.match(e.message, /was started from another version of this file/);
      assert.match(e.message, /--new-study/);
      return true;
    });
    assert.equal(listStudies(ws).length, 1);

    // The file as it was: the study continues, keeping the finished run.
    write(ws, TEXT);
    const resumed = await start(file, ws, []);
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.dir, stopped.dir);
    const done = readStudy(resumed.dir);
    assert.equal(done.state, 'completed');
    assert.equal(done.values[0].runDir, kept);
    assert.deepEqual(
      resumed.runs.map((r) => Object.keys(r.summary.methods)),
      [
        ['stl', 'aft'],
        ['stl', 'aft'],
        ['stl', 'aft'],
      ],
    );
    // Width 0 ran without the noise source; the others with it, at their width.
    assert.deepEqual(
      resumed.runs.map((r) => r.summary.sources.map((s) => `${s.name}:${s.width}`)),
      [['a:8'], ['a:8', 'b:4'], ['a:8', 'b:8']],
    );
    // Every run folder sits inside the study folder: nothing else was added to the run store.
    assert.deepEqual(fs.readdirSync(path.join(ws, '.aft', 'runs')), [path.basename(done.dir)]);

    // The Runs view lists the study with its values' runs under it, never as runs of their own,
    // and takes a value run's live progress as the study's.
    const model = new RunsModel(
      { listRuns: (d) => Promise.resolve(runInfos(d)), listStudies: (d) => Promise.resolve(listStudies(d)) },
      () => [ws],
      silentLogger,
    );
    await model.refresh();
    assert.deepEqual(
      model.studies.map((x) => [x.dir, x.state, x.values.length]),
      [[done.dir, 'completed', 3]],
    );
    assert.equal(model.runs.length, 0);
    const live = progress.at(-1)!;
    model.handle(live);
    assert.equal(model.study(done.dir)?.live, live);
    assert.equal(model.runs.length, 0);

    // A complete study run again is a new study; so is a changed file with --new-study.
    write(ws, TEXT.replace('steps: 12', 'steps: 13'));
    const second = await start(file, ws, [], undefined, true);
    assert.equal(second.resumed, false);
    assert.notEqual(second.dir, done.dir);
    assert.equal(listStudies(ws).length, 2);
  });
});
