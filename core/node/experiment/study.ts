/**
 * A study expanded into its variants: the file's own mapping with one field replaced by each
 * value, before the schema sees it, so that each value is checked exactly as if it had been
 * written in place (validate.ts checks every variant and maps its problems back into
 * `study.values[i]`). Pure: no file system.
 */
import { closest } from '../../common/util/suggest';
import type { StudyKind, StudyValue } from '../../common/runs/study';
import type { SemanticProblem } from './problem';

type Path = (string | number)[];
type Raw = Record<string, unknown>;

/** Fields a study cannot vary, and why (said to the user). */
const FIXED: Record<string, string> = {
  name: 'the study and its runs are named by it',
  description: 'it is free text, not a setting',
  seeds: 'the seeds are the replicates every value runs (mean ± SE over them)',
  backend: 'it changes how fast a run goes, not what it learns',
  study: 'a study cannot vary itself',
};

/** One value of a study as an experiment file's mapping, with where the value sits in it. */
export interface StudyVariant extends StudyValue {
  raw: Raw;
  /** Problems of the variant at or under `from` are the value's own, under `to` in the file. */
  from: Path;
  to: Path;
}

export interface StudyExpansion {
  kind: StudyKind;
  path: Path;
  variants: StudyVariant[];
  /** Problems of the study itself (the field path, a value's form), located in the file. */
  problems: SemanticProblem[];
}

/** `pretrained[1].noise` (or `pretrained.1.noise`) → ['pretrained', 1, 'noise']; undefined when it is not a path. */
export function parseFieldPath(text: string): Path | undefined {
  const out: Path = [];
  // `pretrained.1.noise` too: inside a YAML flow mapping (`{vary: ...}`) brackets need quotes.
  const re = /^(?:\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\.(\d+))/;
  let rest = text.trim();
  if (rest.startsWith('.')) return undefined;
  while (rest.length) {
    const m = re.exec(rest);
    if (!m) return undefined;
    out.push(m[1] !== undefined ? m[1] : Number(m[2] ?? m[3]));
    rest = rest.slice(m[0].length);
  }
  return out.length && typeof out[0] === 'string' ? out : undefined;
}

/** The analysis a study is, from what varies (see STUDY_KINDS). */
export function studyKind(path: Path, values: readonly unknown[]): StudyKind {
  if (path.length === 3 && path[0] === 'pretrained' && typeof path[1] === 'number' && path[2] === 'noise')
    return 'noise';
  if (path.length === 1 && path[0] === 'pretrained')
    return values.every((v) => typeof v === 'string') ? 'sources' : 'subsets';
  if (path[0] === 'methods') return 'ablation';
  return 'field';
}

const short = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 39)}…` : s;
};

const methodName = (m: unknown): string =>
  typeof m === 'string' ? m : m && typeof m === 'object' ? short((m as Raw).name ?? (m as Raw).method) : short(m);

function label(kind: StudyKind, v: unknown): string {
  if (kind === 'sources' || kind === 'subsets')
    return Array.isArray(v) ? (v.length ? v.map(short).join('+') : '(none)') : short(v);
  if (kind === 'ablation') return Array.isArray(v) ? v.map(methodName).join('+') : methodName(v);
  return short(v);
}

const getAt = (raw: unknown, path: Path): unknown =>
  path.reduce<unknown>((cur, p) => (cur && typeof cur === 'object' ? (cur as Raw)[p] : undefined), raw);

/** `raw` with the value at `path` replaced (intermediate mappings made where the file left them to defaults). */
function setAt(raw: Raw, path: Path, value: unknown): void {
  let cur: Raw = raw;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i]];
    if (next === undefined || next === null) cur[path[i]] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[path[i]] as Raw;
  }
  cur[path[path.length - 1]] = structuredClone(value);
}

/**
 * Checks the study's field path against the file and the schema: it must name a field the schema
 * has (`knownKeysAt` lists the keys at a path; empty where any key goes, as in `beta`), a list
 * entry the file has, and a field that may vary.
 */
function pathProblem(raw: Raw, path: Path, knownKeysAt: (p: Path) => string[]): string | undefined {
  const head = String(path[0]);
  if (FIXED[head]) return `\`${head}\` cannot vary: ${FIXED[head]}`;
  for (let i = 0; i < path.length; i++) {
    const p = path[i];
    const prefix = path.slice(0, i);
    if (typeof p === 'number') {
      const list = getAt(raw, prefix);
      if (!Array.isArray(list) || p >= list.length)
        return `\`${fieldOf(prefix)}\` has ${Array.isArray(list) ? `${list.length} ${list.length === 1 ? 'entry' : 'entries'}` : 'no entries'}, so there is no [${p}]`;
      continue;
    }
    const known = knownKeysAt(prefix);
    if (known.length && !known.includes(p)) {
      const guess = closest(p, known);
      return `\`${fieldOf(path.slice(0, i + 1))}\` is not a field${guess ? ` (did you mean \`${guess}\`?)` : ` (expected one of: ${known.join(', ')})`}`;
    }
  }
  return undefined;
}

function fieldOf(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/**
 * The study of an experiment file's mapping as one variant per value. Values whose form the
 * study itself refuses (a source name the file lacks, a value listed twice) are problems here;
 * everything else about a value is for the schema and the semantic checks to say, on its variant.
 */
export function expandStudy(raw: Raw, knownKeysAt: (p: Path) => string[]): StudyExpansion | undefined {
  const study = raw.study as { vary: string; values: unknown[] } | undefined;
  if (!study) return undefined;
  const problems: SemanticProblem[] = [];
  const path = parseFieldPath(study.vary);
  if (!path) {
    problems.push({
      path: ['study', 'vary'],
      message: `\`${study.vary}\` is not a field path; write it as in this file, e.g. \`train.lr\` or \`pretrained[1].noise\``,
    });
    return { kind: 'field', path: [], variants: [], problems };
  }
  const refused = pathProblem(raw, path, knownKeysAt);
  if (refused) {
    problems.push({ path: ['study', 'vary'], message: refused });
    return { kind: 'field', path, variants: [], problems };
  }
  const kind = studyKind(path, study.values);
  const seen = new Map<string, number>();
  const variants: StudyVariant[] = [];
  study.values.forEach((value, index) => {
    const at: Path = ['study', 'values', index];
    const l = label(kind, value);
    const first = seen.get(l);
    if (first !== undefined) {
      problems.push({ path: at, message: `value ${l} is listed twice (also values[${first}])` });
      return;
    }
    seen.set(l, index);
    const variant = variantOf(raw, kind, path, value, at, problems);
    if (!variant) return;
    const x = typeof value === 'number' && (kind === 'noise' || kind === 'field') ? { x: value } : {};
    variants.push({ index, label: l, value, ...x, ...variant });
  });
  return { kind, path, variants, problems };
}

function variantOf(
  base: Raw,
  kind: StudyKind,
  path: Path,
  value: unknown,
  at: Path,
  problems: SemanticProblem[],
): Pick<StudyVariant, 'raw' | 'from' | 'to'> | undefined {
  const raw = structuredClone(base);
  delete raw.study;
  switch (kind) {
    case 'noise': {
      // Width 0 is the run without that source (the paper's leftmost point of fig 6b).
      const i = path[1] as number;
      if (value === 0) (raw.pretrained as unknown[]).splice(i, 1);
      else setAt(raw, path, value);
      return { raw, from: path, to: at };
    }
    case 'sources':
    case 'subsets': {
      const names = Array.isArray(value) ? value : [value];
      const sources = (base.pretrained as Raw[]).filter((s) => s && typeof s === 'object');
      const byName = new Map(sources.map((s) => [String(s.name), s]));
      const picked: Raw[] = [];
      names.forEach((n, k) => {
        const where = Array.isArray(value) ? [...at, k] : at;
        const s = typeof n === 'string' ? byName.get(n) : undefined;
        if (s) picked.push(s);
        else {
          const guess = typeof n === 'string' ? closest(n, [...byName.keys()]) : undefined;
          problems.push({
            path: where,
            message: `expected the name of a source in \`pretrained\` (${[...byName.keys()].join(', ')}); found ${short(n)}`,
            ...(guess ? { suggestion: guess } : {}),
          });
        }
      });
      if (picked.length !== names.length) return undefined;
      raw.pretrained = structuredClone(picked);
      return Array.isArray(value) ? { raw, from: ['pretrained'], to: at } : { raw, from: ['pretrained', 0], to: at };
    }
    case 'ablation': {
      if (path.length > 1) {
        setAt(raw, path, value);
        return { raw, from: path, to: at };
      }
      // A name of one of the file's methods stands for that entry, options and all.
      const listed = Array.isArray(base.methods) ? (base.methods as unknown[]) : [];
      const methods = (Array.isArray(value) ? (value as unknown[]) : [value]).map(
        (m): unknown => (typeof m === 'string' && listed.find((e) => methodName(e) === m)) || m,
      );
      raw.methods = structuredClone(methods);
      // β of methods this value does not run would only be warned about.
      if (raw.beta && typeof raw.beta === 'object' && !Array.isArray(raw.beta)) {
        const names = new Set(methods.map(methodName));
        raw.beta = Object.fromEntries(Object.entries(raw.beta as Raw).filter(([k]) => names.has(k)));
      }
      return Array.isArray(value) ? { raw, from: ['methods'], to: at } : { raw, from: ['methods', 0], to: at };
    }
    case 'field':
      setAt(raw, path, value);
      return { raw, from: path, to: at };
  }
}
