/**
 * The experiments table as data: its columns (the run, the parameters of its resolved experiment,
 * the metrics of each method), a filter language, sorting, grouping by experiment and the CSV of
 * what is shown. Pure (no DOM), so the webview draws it and the tests and benchmarks drive it.
 */
import type { TableRun } from '../protocol/webview';
import { toCsv } from './csv';

export type CellValue = number | string | undefined;

export interface Column {
  /** Stable id (saved in the page's state; `acc:<method>` for per-method metrics). */
  id: string;
  label: string;
  group: 'run' | 'parameter' | 'metric';
  /** Numbers sort and filter numerically and get an axis of their own in parallel coordinates. */
  kind: 'number' | 'text';
  /** What sorts, filters and is exported; undefined is an empty cell (sorted last). */
  value(r: TableRun): CellValue;
  /** What the cell shows (defaults to the value). */
  text?(r: TableRun): string;
}

const pct = (v: number | undefined, digits = 2): string =>
  v === undefined || !Number.isFinite(v) ? '' : (v * 100).toFixed(digits);
const num = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v)
    ? ''
    : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
      ? v.toExponential(1)
      : String(v);

export function cellText(c: Column, r: TableRun): string {
  if (c.text) return c.text(r);
  const v = c.value(r);
  return v === undefined ? '' : typeof v === 'number' ? num(v) : v;
}

const psiWidth = (r: TableRun): number | undefined => {
  const s = r.params?.sources;
  if (!s?.length || s.some((x) => x.width === undefined)) return undefined;
  return s.reduce((a, x) => a + (x.width ?? 0), 0);
};

/** The columns every table has: the run and its parameters. */
const FIXED: Column[] = [
  { id: 'experiment', label: 'experiment', group: 'run', kind: 'text', value: (r) => r.experiment },
  { id: 'run', label: 'run', group: 'run', kind: 'text', value: (r) => r.runId },
  {
    id: 'state',
    label: 'state',
    group: 'run',
    kind: 'text',
    value: (r) => r.state,
    text: (r) => (r.message ? `${r.state}: ${r.message}` : r.state),
  },
  { id: 'started', label: 'started', group: 'run', kind: 'text', value: (r) => r.started },
  {
    id: 'seconds',
    label: 'run time (s)',
    group: 'run',
    kind: 'number',
    value: (r) => r.seconds,
    text: (r) => (r.seconds === undefined ? '' : r.seconds.toFixed(1)),
  },
  {
    id: 'dataset',
    label: 'dataset',
    group: 'parameter',
    kind: 'text',
    value: (r) => r.params?.dataset,
    text: (r) =>
      r.params
        ? `${r.params.dataset}${r.params.train !== undefined ? ` ${r.params.train}/${r.params.test ?? '?'}` : ''}`
        : '',
  },
  {
    id: 'sources',
    label: 'sources',
    group: 'parameter',
    kind: 'text',
    value: (r) => r.params?.sources.map((s) => (s.width !== undefined ? `${s.name} ${s.width}` : s.name)).join(', '),
  },
  { id: 'psiWidth', label: 'ψ width', group: 'parameter', kind: 'number', value: psiWidth },
  { id: 'student', label: 'student', group: 'parameter', kind: 'text', value: (r) => r.params?.student },
  { id: 'methods', label: 'methods', group: 'parameter', kind: 'text', value: (r) => r.params?.methods.join(', ') },
  { id: 'lr', label: 'lr', group: 'parameter', kind: 'number', value: (r) => r.params?.lr },
  { id: 'steps', label: 'steps', group: 'parameter', kind: 'number', value: (r) => r.params?.steps },
  { id: 'batch', label: 'batch', group: 'parameter', kind: 'number', value: (r) => r.params?.batch },
  {
    id: 'seeds',
    label: 'seeds',
    group: 'parameter',
    kind: 'number',
    value: (r) => r.params?.seeds.length,
    text: (r) => r.params?.seeds.join(', ') ?? '',
  },
  { id: 'backend', label: 'backend', group: 'parameter', kind: 'text', value: (r) => r.params?.backend },
];

/** Method names across runs, in order of first appearance. */
export function tableMethods(runs: readonly TableRun[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) {
    for (const m of r.params?.methods ?? []) seen.add(m);
    for (const m of Object.keys(r.methods)) seen.add(m);
  }
  return [...seen];
}

function methodColumns(m: string): Column[] {
  const get = (r: TableRun) => r.methods[m];
  return [
    {
      id: `acc:${m}`,
      label: `${m} test acc. %`,
      group: 'metric',
      kind: 'number',
      value: (r) => get(r)?.mean,
      text: (r) => {
        const x = get(r);
        return x ? `${pct(x.mean)} ± ${pct(x.se)}` : '';
      },
    },
    {
      id: `best:${m}`,
      label: `${m} best %`,
      group: 'metric',
      kind: 'number',
      value: (r) => get(r)?.best,
      text: (r) => pct(get(r)?.best),
    },
    {
      id: `last:${m}`,
      label: `${m} last %`,
      group: 'metric',
      kind: 'number',
      value: (r) => get(r)?.last,
      text: (r) => pct(get(r)?.last),
    },
    { id: `beta:${m}`, label: `${m} β`, group: 'metric', kind: 'number', value: (r) => get(r)?.beta },
    {
      id: `time:${m}`,
      label: `${m} train s`,
      group: 'metric',
      kind: 'number',
      value: (r) => get(r)?.trainSeconds,
      text: (r) => {
        const t = get(r)?.trainSeconds;
        return t === undefined ? '' : t.toFixed(1);
      },
    },
  ];
}

/** Every column of these runs: the fixed ones, then five per method. */
export function tableColumns(runs: readonly TableRun[]): Column[] {
  return [...FIXED, ...tableMethods(runs).flatMap(methodColumns)];
}

/** The columns shown when the user has chosen none. */
export function defaultColumnIds(columns: readonly Column[]): string[] {
  const shown = new Set(['state', 'started', 'dataset', 'sources', 'student', 'lr', 'steps', 'seeds']);
  return columns.filter((c) => shown.has(c.id) || c.id.startsWith('acc:') || c.id.startsWith('beta:')).map((c) => c.id);
}

/**
 * The columns to show, in order: the chosen ids that exist, then (when `order` lists every
 * known id) nothing else; ids not known to the choice (a method first seen now) are appended
 * when `known` does not list them.
 */
export function visibleColumns(
  columns: readonly Column[],
  shown: readonly string[],
  known: readonly string[],
): Column[] {
  const byId = new Map(columns.map((c) => [c.id, c]));
  const knownSet = new Set(known);
  const out = shown.map((id) => byId.get(id)).filter((c): c is Column => c !== undefined);
  const fresh = defaultColumnIds(columns).filter((id) => !knownSet.has(id) && !shown.includes(id));
  return [...out, ...fresh.map((id) => byId.get(id)!)];
}

// ---- filtering ----

export interface FilterTerm {
  /** A column id, or undefined for a term matched against every shown cell. */
  column?: string;
  op: ':' | '=' | '!=' | '<' | '<=' | '>' | '>=';
  value: string;
}

export interface ParsedFilter {
  terms: FilterTerm[];
  /** Terms naming a column that does not exist, said to the user (and matched as plain text). */
  problems: string[];
}

const OPS = ['!=', '<=', '>=', '=', '<', '>', ':'] as const;

/** `name<op>value` where name is a known column (the longest that fits: `acc:aft>90` is column `acc:aft`). */
function splitTerm(
  raw: string,
  lookup: ReadonlyMap<string, string>,
): { id: string; op: FilterTerm['op']; value: string } | undefined {
  let best: { id: string; op: FilterTerm['op']; value: string; at: number } | undefined;
  for (let i = 1; i < raw.length; i++) {
    const op = OPS.find((o) => raw.startsWith(o, i));
    if (!op) continue;
    const id = lookup.get(raw.slice(0, i).toLowerCase());
    if (id && (!best || i > best.at)) best = { id, op, value: raw.slice(i + op.length), at: i };
  }
  return best && { id: best.id, op: best.op, value: best.value };
}

/**
 * The filter: whitespace-separated terms that must all hold (quotes keep spaces). `word` matches
 * any shown cell (case-insensitive); `col:text` a cell of that column containing the text;
 * `col=v`, `col!=v`; `col<n`, `col<=n`, `col>n`, `col>=n` compare numbers (a percent column takes
 * percent: `acc:aft>90`). A column is named by its id or its label.
 */
export function parseFilter(text: string, columns: readonly Column[]): ParsedFilter {
  const terms: FilterTerm[] = [];
  const problems: string[] = [];
  const words = text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  const lookup = new Map<string, string>();
  for (const c of columns) {
    lookup.set(c.id.toLowerCase(), c.id);
    lookup.set(c.label.toLowerCase().replace(/\s+/g, ''), c.id);
  }
  for (const raw of words) {
    const w = raw.replace(/"/g, '');
    const t = splitTerm(w, lookup);
    if (t) {
      terms.push({ column: t.id, op: t.op, value: t.value });
      continue;
    }
    const cmp = /^([^<>=!]+)(!=|<=|>=|=|<|>)/.exec(w);
    if (cmp) problems.push(`no column "${cmp[1]}"`);
    if (w) terms.push({ op: ':', value: w });
  }
  return { terms, problems };
}

const isPercent = (c: Column): boolean => /^(acc|best|last):/.test(c.id);

function termHolds(t: FilterTerm, r: TableRun, byId: ReadonlyMap<string, Column>, shown: readonly Column[]): boolean {
  if (t.column === undefined) {
    const needle = t.value.toLowerCase();
    return shown.some((c) => cellText(c, r).toLowerCase().includes(needle));
  }
  const c = byId.get(t.column)!;
  const v = c.value(r);
  if (t.op === ':') return cellText(c, r).toLowerCase().includes(t.value.toLowerCase());
  if (c.kind === 'number') {
    const want = Number(t.value) / (isPercent(c) ? 100 : 1);
    if (!Number.isFinite(want)) return t.op === '!=' ? true : false;
    if (typeof v !== 'number' || !Number.isFinite(v)) return t.op === '!=';
    const eps = 1e-9 * Math.max(1, Math.abs(want));
    switch (t.op) {
      case '=':
        return Math.abs(v - want) <= eps;
      case '!=':
        return Math.abs(v - want) > eps;
      case '<':
        return v < want;
      case '<=':
        return v <= want + eps;
      case '>':
        return v > want;
      case '>=':
        return v >= want - eps;
    }
  }
  const s = String(v ?? '').toLowerCase();
  const want = t.value.toLowerCase();
  switch (t.op) {
    case '=':
      return s === want;
    case '!=':
      return s !== want;
    case '<':
      return s < want;
    case '<=':
      return s <= want;
    case '>':
      return s > want;
    default:
      return s >= want;
  }
}

/** The runs for which every term holds; plain words look at the `shown` columns. */
export function filterRuns(
  runs: readonly TableRun[],
  filter: ParsedFilter,
  columns: readonly Column[],
  shown: readonly Column[],
): TableRun[] {
  if (!filter.terms.length) return [...runs];
  const byId = new Map(columns.map((c) => [c.id, c]));
  return runs.filter((r) => filter.terms.every((t) => termHolds(t, r, byId, shown)));
}

// ---- sorting and grouping ----

export interface SortKey {
  column: string;
  dir: 'asc' | 'desc';
}

/** Sorted by one column (empty cells last in either direction), ties newest first; a new array. */
export function sortRuns(runs: readonly TableRun[], sort: SortKey | undefined, columns: readonly Column[]): TableRun[] {
  const c = sort ? columns.find((x) => x.id === sort.column) : undefined;
  const byStarted = (a: TableRun, b: TableRun): number => (a.started < b.started ? 1 : a.started > b.started ? -1 : 0);
  if (!c || !sort) return [...runs].sort(byStarted);
  const sign = sort.dir === 'asc' ? 1 : -1;
  // Values taken once (a column's getter per comparison would be n log n calls).
  const keyed = runs.map((r) => ({ r, v: c.value(r) }));
  keyed.sort((a, b) => {
    const av = a.v;
    const bv = b.v;
    const aEmpty = av === undefined || (typeof av === 'number' && Number.isNaN(av));
    const bEmpty = bv === undefined || (typeof bv === 'number' && Number.isNaN(bv));
    if (aEmpty || bEmpty) return aEmpty === bEmpty ? byStarted(a.r, b.r) : aEmpty ? 1 : -1;
    const d =
      typeof av === 'number' && typeof bv === 'number'
        ? av - bv
        : String(av) < String(bv)
          ? -1
          : String(av) > String(bv)
            ? 1
            : 0;
    return d !== 0 ? sign * d : byStarted(a.r, b.r);
  });
  return keyed.map((k) => k.r);
}

export type TableItem =
  { kind: 'group'; experiment: string; count: number; collapsed: boolean } | { kind: 'run'; run: TableRun };

/**
 * The rows as drawn: with `group`, a heading per experiment (by name) followed by its runs in the
 * sorted order, or only the heading when collapsed; otherwise the runs alone.
 */
export function tableItems(
  sorted: readonly TableRun[],
  group: boolean,
  collapsed: ReadonlySet<string> = new Set(),
): TableItem[] {
  if (!group) return sorted.map((run) => ({ kind: 'run', run }));
  const groups = new Map<string, TableRun[]>();
  for (const r of sorted) {
    let g = groups.get(r.experiment);
    if (!g) groups.set(r.experiment, (g = []));
    g.push(r);
  }
  const out: TableItem[] = [];
  for (const name of [...groups.keys()].sort()) {
    const runs = groups.get(name)!;
    const closed = collapsed.has(name);
    out.push({ kind: 'group', experiment: name, count: runs.length, collapsed: closed });
    if (!closed) for (const run of runs) out.push({ kind: 'run', run });
  }
  return out;
}

/** The shown columns of these runs as CSV: values (full precision), with the run folder last. */
export function tableCsv(runs: readonly TableRun[], shown: readonly Column[]): string {
  const header = [...shown.map((c) => c.id), 'location'];
  return toCsv(
    header,
    runs.map((r) => [
      ...shown.map((c) => {
        const v = c.value(r);
        return c.id === 'state' && r.message ? `${r.state}: ${r.message}` : v === undefined ? '' : v;
      }),
      r.location,
    ]),
  );
}
