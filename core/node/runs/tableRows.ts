/**
 * The experiments table's rows, from the run store: each run's listing (`runInfos`: state,
 * message, summary), the parameters of its resolved experiment (experiment.json) and the best and
 * last test accuracy of each method's curves (metrics.jsonl, through metrics.cols when it is
 * there). experiment.json and the curves are read once per file version (StatCache), so a table
 * refreshed every few seconds reads only what changed. A file that cannot be read leaves its run
 * in the table, saying why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunInfo } from '../../common/protocol/rpc';
import type { TableMethod, TableParams, TableRun } from '../../common/protocol/webview';
import { isRecord } from '../../common/runs/records';
import { CurveColumns } from '../../common/runs/curves';
import { readUserJson } from '../io/userFile';
import { readAllCurves } from './reader';
import { StatCache } from './statCache';
import { RUNS_DIR, runInfos } from './store';

const MAX_EXPERIMENT_BYTES = 16 * 1024 * 1024;

/** The parsed experiment.json (its widths and sizes come from the summary, which arrives later). */
const experimentCache = new StatCache<unknown>();
const curvesCache = new StatCache<Map<string, { best: number; last: number }>>();

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const numOr = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

/** What the table shows of a resolved experiment; `summary` (if any) gives the source widths and dataset size. */
export function tableParams(exp: unknown, info: Pick<RunInfo, 'summary'>): TableParams {
  if (!isRecord(exp)) throw new Error('experiment.json is not an object');
  const dataset = isRecord(exp.dataset) ? exp.dataset : {};
  const down = isRecord(exp.downstream) ? exp.downstream : {};
  const train = isRecord(exp.train) ? exp.train : {};
  const model = str(down.model, 'mlp');
  const dims = (v: unknown): string => (Array.isArray(v) ? v.filter((x) => typeof x === 'number').join('-') : '');
  const student =
    model === 'mlp'
      ? `mlp ${dims(down.hidden)}`
      : model === 'cnn'
        ? `cnn ${dims(down.channels)} / ${dims(down.hidden)}`
        : model === 'transformer'
          ? `transformer ${numOr(down.layers, 2)}×${numOr(down.width, 64)}`
          : model === 'pretrained'
            ? `pretrained ${path.basename(str(down.folder))}`
            : model;
  const summarySources = new Map((info.summary?.sources ?? []).map((s) => [s.name, s]));
  const sources = (Array.isArray(exp.pretrained) ? exp.pretrained : []).filter(isRecord).map((s) => {
    const name = str(s.name, '?');
    const known = summarySources.get(name);
    const kind =
      known?.kind ??
      (s.builtin !== undefined
        ? 'builtin'
        : s.noise !== undefined
          ? 'noise'
          : s.onnx !== undefined
            ? 'onnx'
            : 'features');
    const width = known?.width ?? (typeof s.noise === 'number' ? s.noise : undefined);
    return { name, kind, ...(width !== undefined ? { width } : {}) };
  });
  const methods = (Array.isArray(exp.methods) ? exp.methods : []).map((m) =>
    typeof m === 'string' ? m : isRecord(m) ? str(m.name, str(m.method, '?')) : '?',
  );
  const size = info.summary?.dataset;
  return {
    dataset: str(dataset.source, '?'),
    ...(size
      ? { train: size.train, test: size.test }
      : typeof dataset.train === 'number'
        ? { train: dataset.train }
        : {}),
    ...(!size && typeof dataset.test === 'number' ? { test: dataset.test } : {}),
    sources,
    student,
    methods,
    lr: numOr(train.lr, NaN),
    steps: numOr(train.steps, NaN),
    batch: numOr(train.batch, NaN),
    seeds: Array.isArray(exp.seeds) ? exp.seeds.filter((s): s is number => typeof s === 'number') : [],
    backend: info.summary?.backend ?? str(exp.backend, 'auto'),
  };
}

/** Below this size metrics.jsonl is parsed directly (a few evaluations per training); above, through metrics.cols. */
const DIRECT_METRICS_BYTES = 2 * 1024 * 1024;

/** The final-phase test accuracies of each method and seed, in logged order. */
function finalAccuracies(dir: string, size: number): Map<string, { method: string; acc: number[] }> {
  const out = new Map<string, { method: string; acc: number[] }>();
  const add = (method: string, seed: number, beta: number, acc: number): void => {
    const key = `${method}/${seed}/${beta}`;
    let s = out.get(key);
    if (!s) out.set(key, (s = { method, acc: [] }));
    s.acc.push(acc);
  };
  if (size <= DIRECT_METRICS_BYTES) {
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean);
    let rows: unknown[];
    try {
      // One parse of all the lines is about twice as fast as a parse per line.
      rows = JSON.parse(`[${lines.join(',')}]`) as unknown[];
    } catch {
      // A damaged line (the dashboard says which): the best and last are of the other lines.
      rows = lines.map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return undefined;
        }
      });
    }
    for (const row of rows) {
      if (
        isRecord(row) &&
        row.phase === 'final' &&
        typeof row.method === 'string' &&
        typeof row.evalAccuracy === 'number'
      )
        add(row.method, Number(row.seed), Number(row.beta), row.evalAccuracy);
    }
    return out;
  }
  const { series, rows } = readAllCurves(dir);
  const curves = new CurveColumns();
  if (series) curves.load(series);
  curves.add(rows);
  for (const s of curves.all()) {
    if (s.phase !== 'final') continue;
    for (const v of s.columns.get('evalAccuracy')?.view() ?? []) add(s.method, s.seed, s.beta, v);
  }
  return out;
}

/** Per method: the mean over seeds of the best and of the last test accuracy its final trainings logged. */
function bestAndLast(dir: string, size: number): Map<string, { best: number; last: number }> {
  const per = new Map<string, { best: number[]; last: number[] }>();
  for (const { method, acc } of finalAccuracies(dir, size).values()) {
    let best = -Infinity;
    let last = NaN;
    for (const v of acc)
      if (Number.isFinite(v)) {
        if (v > best) best = v;
        last = v;
      }
    if (!Number.isFinite(last)) continue;
    let m = per.get(method);
    if (!m) per.set(method, (m = { best: [], last: [] }));
    m.best.push(best);
    m.last.push(last);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return new Map([...per].map(([k, v]) => [k, { best: mean(v.best), last: mean(v.last) }]));
}

/**
 * One run's row from its listing. The best and last accuracies of its curves are read only when
 * `readCurves` allows (a time budget, so that a table of a thousand runs opens before they are all
 * read); otherwise the row has them only if they were read before (and `pending` says so).
 */
export function tableRun(info: RunInfo, readCurves: () => boolean = () => true): { run: TableRun; pending: boolean } {
  let pending = false;
  const problems: string[] = info.message ? [info.message] : [];
  let params: TableParams | undefined;
  try {
    const file = path.join(info.runDir, 'experiment.json');
    const exp = experimentCache.getIfExists(file, () =>
      readUserJson(file, { what: 'experiment.json', maxBytes: MAX_EXPERIMENT_BYTES }),
    );
    if (exp === undefined) problems.push('experiment.json is missing');
    else params = tableParams(exp, info);
  } catch (e) {
    problems.push(`experiment.json cannot be read (${(e as Error).message})`);
  }
  let curves: Map<string, { best: number; last: number }> | undefined;
  // A running run's curves change at every evaluation: its best and last come with its summary.
  if (info.state !== 'running') {
    try {
      const file = path.join(info.runDir, 'metrics.jsonl');
      const st = statIfExists(file);
      if (st) {
        curves = curvesCache.peek(file, st);
        if (!curves && readCurves()) curves = curvesCache.get(file, st, () => bestAndLast(info.runDir, st.size));
        else if (!curves) pending = true;
      }
    } catch (e) {
      problems.push(`metrics.jsonl cannot be read (${(e as Error).message})`);
    }
  }
  const methods: Record<string, TableMethod> = {};
  for (const [name, m] of Object.entries(info.summary?.methods ?? {})) {
    const c = curves?.get(name);
    methods[name] = {
      kind: m.kind,
      mean: m.test_accuracy.mean,
      se: m.test_accuracy.se,
      beta: m.beta,
      trainSeconds: m.train_seconds,
      ...(c ? { best: c.best, last: c.last } : {}),
    };
  }
  const run: TableRun = {
    runId: info.runId,
    location: info.runDir,
    experiment: info.experiment,
    state: info.state,
    started: info.started,
    ...(problems.length ? { message: problems.join('; ') } : {}),
    ...(params ? { params } : {}),
    methods,
    ...(info.summary ? { seconds: info.summary.seconds } : {}),
  };
  return { run, pending };
}

function statIfExists(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Every run of a workspace as the table shows it, newest first. Curves not read before are read
 * for at most `curvesBudgetMs` (all of them by default); `pending` lists the runs whose curves are
 * still to be read (`readCurves`), so that a caller can read them in slices and list again.
 */
export function tableRuns(
  workspaceDir: string,
  curvesBudgetMs = Number.POSITIVE_INFINITY,
): { runs: TableRun[]; pending: RunInfo[] } {
  const infos = runInfos(workspaceDir);
  const root = path.join(workspaceDir, RUNS_DIR);
  const keep = new Set(infos.map((i) => i.runDir));
  experimentCache.prune(root, keep);
  curvesCache.prune(root, keep);
  const until = performance.now() + curvesBudgetMs;
  // At least one run's curves per call, so that a series of calls always gets through them.
  let reads = 0;
  const canRead = (): boolean => reads++ === 0 || performance.now() < until;
  const pending: RunInfo[] = [];
  const runs = infos.map((info) => {
    const r = tableRun(info, canRead);
    if (r.pending) pending.push(info);
    return r.run;
  });
  return { runs, pending };
}

/** Reads (and keeps) the best and last accuracies of a run's curves, for a later `tableRuns`; failures are said there. */
export function readCurves(info: RunInfo): void {
  try {
    tableRun(info);
  } catch {
    // tableRun says what it could not read in the row; nothing else throws
  }
}
