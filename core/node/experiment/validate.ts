/**
 * Turns the text of an experiment file into a typed `Experiment` or a list of problems, each
 * with the line and column of the offending YAML node, the field, what was expected and what
 * was found. Used by the CLI, the sidecar and the language server.
 */
import {
  isMap,
  isScalar,
  LineCounter,
  parseDocument,
  visit,
  YAMLParseError,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import type { z } from 'zod';
import { closest } from '../../common/util/suggest';
import { experimentSchema, METHOD_KINDS, type Experiment } from './schema';
import { experimentJsonSchema } from './schema';
import type { FileProbe } from './arrays';
import { semanticProblems } from './semantics';
import type { SemanticProblem } from './problem';
import { expandStudy, type StudyVariant } from './study';
import type { StudyKind, StudyValue } from '../../common/runs/study';

export interface Problem {
  message: string;
  /** Dotted field path, e.g. `train.batch` or `methods[2]`. */
  field: string;
  path: (string | number)[];
  /** 1-based position of the start and end of the offending node. */
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: 'error' | 'warning';
  /** A replacement the editor can offer as a quick fix. */
  suggestion?: string;
  /** What an editor can offer to fix: replace a key or value, or add the missing field at `path`. */
  kind?: 'unknown_key' | 'invalid_value' | 'missing_field';
}

/** Past this many, problems are cut short with a note, so a huge broken file stays quick to check. */
export const MAX_PROBLEMS = 100;

export interface ValidationResult {
  experiment?: Experiment;
  /** With a `study:` section: its runs, one checked experiment per value (all valid, or none given). */
  study?: ExpandedStudy;
  problems: Problem[];
}

/** A study whose every value made a valid experiment: what `aft run` runs, one after another. */
export interface ExpandedStudy {
  vary: string;
  kind: StudyKind;
  values: StudyValue[];
  experiments: Experiment[];
}

export function fieldName(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s || '(file)';
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : typeof v;
}

function getAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let cur = value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

type S = { properties?: Record<string, S>; items?: S; oneOf?: S[]; anyOf?: S[]; additionalProperties?: S | boolean };
// Generating the JSON Schema takes milliseconds; a file with many unknown keys asked for it once
// per key, which made a 1 MB file take minutes in the language server. It never changes at run time.
let jsonSchema: S | undefined;

/** Keys the JSON Schema allows at a path (union branches merged), for "did you mean". */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let nodes: S[] = [(jsonSchema ??= experimentJsonSchema() as S)];
  const expand = (ss: S[]): S[] =>
    ss.flatMap((s) => (s.oneOf || s.anyOf ? expand([...(s.oneOf ?? []), ...(s.anyOf ?? [])]) : [s]));
  for (const p of path) {
    nodes = expand(nodes).flatMap((s) => {
      if (typeof p === 'number') return s.items ? [s.items] : [];
      const child = s.properties?.[String(p)];
      return child ? [child] : [];
    });
  }
  return [...new Set(expand(nodes).flatMap((s) => Object.keys(s.properties ?? {})))];
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly textLength: number,
  ) {}

  parts(): [Document, LineCounter, number] {
    return [this.doc, this.lines, this.textLength];
  }

  private pos(offset: number): { line: number; col: number } {
    return this.lines.linePos(Math.min(offset, this.textLength));
  }

  /** The range of the value at `path`, or of its nearest existing parent. `key` picks a map key. */
  range(path: readonly PropertyKey[], key?: string): [number, number] {
    for (let n = path.length; n >= 0; n--) {
      // An empty (or comment-only) document has no contents: null at the root.
      const node = this.doc.getIn(path.slice(0, n) as (string | number)[], true) as YamlNode | null | undefined;
      if (node === undefined || node === null || !node.range) continue;
      if (key !== undefined && n === path.length && isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === key);
        const k = pair?.key as YamlNode | undefined;
        if (k?.range) return [k.range[0], k.range[1]];
      }
      return [node.range[0], node.range[1]];
    }
    return [0, 0];
  }

  problem(
    path: (string | number)[],
    message: string,
    opts: { key?: string; suggestion?: string; severity?: 'error' | 'warning'; kind?: Problem['kind'] } = {},
  ): Problem {
    const [s, e] = this.range(path, opts.key);
    const a = this.pos(s);
    const b = this.pos(Math.max(e, s));
    const fullPath = opts.key !== undefined ? [...path, opts.key] : path;
    return {
      message,
      field: fieldName(fullPath),
      path: fullPath,
      line: a.line,
      column: a.col,
      endLine: b.line,
      endColumn: b.col,
      severity: opts.severity ?? 'error',
      ...(opts.suggestion !== undefined ? { suggestion: opts.suggestion } : {}),
      ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
    };
  }
}

/**
 * Locates a study variant's problems in the file: those at or under the varied field are the
 * value's own and go under `study.values[i]`; the others (a method that needs the source this
 * value leaves out) are said at the value, naming the field. Every message says which value.
 */
class ValueLocator extends Locator {
  constructor(
    private readonly base: Locator,
    private readonly variant: StudyVariant,
  ) {
    super(...base.parts());
  }

  override problem(
    path: (string | number)[],
    message: string,
    opts: { key?: string; suggestion?: string; severity?: 'error' | 'warning'; kind?: Problem['kind'] } = {},
  ): Problem {
    const { from, to, label } = this.variant;
    const inside = from.length <= path.length && from.every((p, i) => path[i] === p);
    const field = fieldName(opts.key !== undefined ? [...path, opts.key] : path);
    if (inside) return this.base.problem([...to, ...path.slice(from.length)], `study value ${label}: ${message}`, opts);
    const { key: _key, kind: _kind, suggestion: _suggestion, ...rest } = opts;
    return this.base.problem(to, `study value ${label}: ${field}: ${message}`, rest);
  }
}

type Issue = z.core.$ZodIssue;

function issueProblems(issue: Issue, input: unknown, loc: Locator, prefix: (string | number)[] = []): Problem[] {
  const path = [...prefix, ...(issue.path as (string | number)[])];
  const found = getAt(input, path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.slice(0, MAX_PROBLEMS + 1).map((k) => {
        const known = knownKeysAt(path);
        const guess = closest(k, known);
        const hint = guess
          ? ` (did you mean \`${guess}\`?)`
          : known.length
            ? ` (expected one of: ${known.join(', ')})`
            : '';
        return loc.problem(path, `unknown key \`${k}\`${hint}`, {
          key: k,
          kind: 'unknown_key',
          ...(guess ? { suggestion: guess } : {}),
        });
      });
    case 'invalid_type':
      return [
        found === undefined
          ? loc.problem(path, `missing required field (expected ${issue.expected})`, { kind: 'missing_field' })
          : loc.problem(path, `expected ${issue.expected}, found ${describeValue(found)}`),
      ];
    case 'invalid_value': {
      const options = issue.values.map((v) => String(v));
      const guess = typeof found === 'string' ? closest(found, options) : undefined;
      const hint = guess ? ` (did you mean \`${guess}\`?)` : '';
      return [
        loc.problem(path, `expected one of ${options.join(', ')}; found ${describeValue(found)}${hint}`, {
          kind: 'invalid_value',
          ...(guess ? { suggestion: guess } : {}),
        }),
      ];
    }
    case 'invalid_union': {
      // Report the branch that got furthest: the one with the fewest issues, preferring the
      // branch whose discriminating key (e.g. `noise`, `builtin`) the user wrote.
      const branches = issue.errors;
      if (branches.length === 0) {
        // A discriminated union whose key (`source`) is missing or names no branch.
        const options =
          'options' in issue && Array.isArray(issue.options) ? issue.options.map((o) => String(o)) : undefined;
        if (options && found === undefined)
          return [
            loc.problem(path, `missing required field (expected one of ${options.join(', ')})`, {
              kind: 'missing_field',
            }),
          ];
        if (options) {
          const guess = typeof found === 'string' ? closest(found, options) : undefined;
          const hint = guess ? ` (did you mean \`${guess}\`?)` : '';
          return [
            loc.problem(path, `expected one of ${options.join(', ')}; found ${describeValue(found)}${hint}`, {
              kind: 'invalid_value',
              ...(guess ? { suggestion: guess } : {}),
            }),
          ];
        }
        return [loc.problem(path, `${issue.message}; found ${describeValue(found)}`)];
      }
      const obj = found && typeof found === 'object' && !Array.isArray(found) ? Object.keys(found) : [];
      // A misspelt key (`nois`) shows up as an unknown key plus a missing one (`noise`): in the
      // branch where that is so, only the unknown key (with its "did you mean") is worth reporting.
      const explained = (b: Issue[]): Issue[] => {
        const unknown = b.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : []));
        return b.filter((i) => {
          const last = i.path[i.path.length - 1];
          const missing = i.code === 'invalid_type' && typeof last === 'string' && getAt(found, i.path) === undefined;
          return !(missing && unknown.some((k) => closest(k, [last]) !== undefined));
        });
      };
      const score = (b: Issue[]): number =>
        explained(b).length +
        10 *
          b.filter(
            (i) =>
              i.code === 'unrecognized_keys' &&
              i.keys.some((k) => obj.includes(k) && closest(k, knownKeysAt(path)) === k),
          ).length +
        // A branch that rejects the value's very form: a wrong type, or an enum of names given
        // a mapping (a method object with one bad option is not a bad method name).
        (b.some(
          (i) =>
            i.path.length === 0 &&
            (i.code === 'invalid_type' || (i.code === 'invalid_value' && typeof found === 'object' && found !== null)),
        )
          ? 100
          : 0);
      const best = [...branches].sort((x, y) => score(x) - score(y))[0];
      if (score(best) >= 100) {
        return [loc.problem(path, `expected ${unionExpectation(path)}; found ${describeValue(found)}`)];
      }
      return explained(best).flatMap((i) => issueProblems(i, input, loc, path));
    }
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
    case 'not_multiple_of':
    case 'custom':
    default:
      return [loc.problem(path, `${issue.message.replace(/^Invalid input: /, '')}; found ${describeValue(found)}`)];
  }
}

function unionExpectation(path: readonly (string | number)[]): string {
  const last = path.filter((p) => typeof p === 'string').pop();
  if (last === 'methods') return `a method name (${METHOD_KINDS.join(', ')}) or {name, method, ...}`;
  if (last === 'pretrained')
    return 'a source {name, builtin} | {name, noise} | {name, features} | {name, onnx} | {name, product}';
  return 'a value of another form';
}

/** An experiment file parsed as YAML, with what is needed to map offsets to lines. */
export interface ParsedYaml {
  text: string;
  doc: Document;
  lines: LineCounter;
}

/**
 * Parses experiment text. Duplicate keys are found here with one pass over each mapping: the
 * yaml package's own check compares every key with every other, which took minutes on a 1 MB
 * file with thousands of keys.
 */
export function parseExperimentYaml(text: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length === 0) {
    visit(doc, {
      Map(_, map) {
        const seen = new Set<string>();
        for (const pair of map.items) {
          if (!isScalar(pair.key) || !pair.key.range) continue;
          const k = String(pair.key.value);
          if (seen.has(k))
            doc.errors.push(
              new YAMLParseError(
                [pair.key.range[0], pair.key.range[1]],
                'DUPLICATE_KEY',
                `Map keys must be unique; \`${k}\` appears twice`,
              ),
            );
          seen.add(k);
        }
      },
    });
  }
  return { text, doc, lines };
}

/** Validates experiment text. Relative paths resolve against `baseDir`; see `validateParsed`. */
/**
 * Checks a process adds to the file's own, run on each valid experiment (each study value too)
 * and reported at the paths they give: the sidecar's checks of a pretrained student's folder,
 * which need the student registry (sidecar/src/experiment/studentCheck.ts).
 */
export type ExtraChecks = (exp: Experiment) => SemanticProblem[];

export function validateExperimentText(
  text: string,
  baseDir?: string,
  files?: FileProbe,
  extra?: ExtraChecks,
): ValidationResult {
  return validateParsed(parseExperimentYaml(text), baseDir, files, extra);
}

/**
 * Validates a parsed experiment file. With `files`, referenced arrays are also checked against
 * each other and the dataset from their headers (the editor passes a cached probe); without it,
 * only their existence is, and the loaders check shapes when they read the data.
 */
export function validateParsed(
  { text, doc, lines }: ParsedYaml,
  baseDir?: string,
  files?: FileProbe,
  extra?: ExtraChecks,
): ValidationResult {
  const loc = new Locator(doc, lines, text.length);
  const problems: Problem[] = [];
  for (const err of [...doc.errors]) {
    const [s, e] = err.pos;
    const a = lines.linePos(s);
    const b = lines.linePos(e);
    problems.push({
      message: `YAML syntax: ${err.message.split('\n')[0]}`,
      field: '(file)',
      path: [],
      line: a.line,
      column: a.col,
      endLine: b.line,
      endColumn: b.col,
      severity: 'error',
    });
  }
  if (problems.length) return { problems: capped(problems) };
  let input: unknown;
  try {
    // A small alias budget refuses "billion laughs" documents instead of expanding them.
    input = doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    return { problems: [loc.problem([], `YAML: ${e instanceof Error ? e.message : String(e)}`)] };
  }
  if (doc.contents === null) {
    // An empty (or comment-only) file: said once, then checked as an empty mapping, so each
    // required field is reported missing (with its quick fix in the editor).
    problems.push(loc.problem([], 'the file is empty (or has only comments); expected a mapping of experiment fields'));
    input = {};
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { problems: [loc.problem([], `expected a mapping of experiment fields, found ${describeValue(input)}`)] };
  }
  const parsed = experimentSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(...issueProblems(issue, input, loc));
      if (problems.length > MAX_PROBLEMS) break;
    }
    return { problems: capped(dedupe(problems)) };
  }
  const semantic = semanticProblems(parsed.data, baseDir, files);
  // The extra checks read what the file names; a file that is already wrong is said first.
  const checked = extra && !semantic.some((p) => (p.severity ?? 'error') === 'error') ? extra(parsed.data) : [];
  for (const p of [...semantic, ...checked]) {
    const opts = {
      severity: p.severity ?? 'error',
      ...(p.key !== undefined ? { key: p.key } : {}),
      ...(p.suggestion !== undefined ? { suggestion: p.suggestion } : {}),
    } as const;
    problems.push(loc.problem(p.path, p.message, opts));
  }
  const study = problems.some((p) => p.severity === 'error')
    ? undefined
    : studyOf(input as Record<string, unknown>, loc, baseDir, files, problems, extra);
  const shown = capped(problems);
  return shown.some((p) => p.severity === 'error')
    ? { problems: shown }
    : { experiment: parsed.data, ...(study ? { study } : {}), problems: shown };
}

/**
 * Every value of a study checked as if written in place of its field (schema, cross-field
 * checks, files): each value's errors are added to `problems` at that value, and the study is
 * returned only when every value made a valid experiment, so nothing runs while any is wrong.
 */
function studyOf(
  input: Record<string, unknown>,
  loc: Locator,
  baseDir: string | undefined,
  files: FileProbe | undefined,
  problems: Problem[],
  extra: ExtraChecks | undefined,
): ExpandedStudy | undefined {
  const expansion = expandStudy(input, knownKeysAt);
  if (!expansion) return undefined;
  const before = problems.length;
  for (const p of expansion.problems)
    problems.push(loc.problem(p.path, p.message, p.suggestion !== undefined ? { suggestion: p.suggestion } : {}));
  const experiments: Experiment[] = [];
  for (const variant of expansion.variants) {
    const vloc = new ValueLocator(loc, variant);
    const parsed = experimentSchema.safeParse(variant.raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(...issueProblems(issue, variant.raw, vloc));
      continue;
    }
    // The file's own warnings were said once already; a value adds only what stops it.
    let errors = semanticProblems(parsed.data, baseDir, files).filter((p) => (p.severity ?? 'error') === 'error');
    if (!errors.length && extra) errors = extra(parsed.data).filter((p) => (p.severity ?? 'error') === 'error');
    for (const p of errors) problems.push(vloc.problem(p.path, p.message, p.key !== undefined ? { key: p.key } : {}));
    if (!errors.length) experiments.push(parsed.data);
  }
  if (problems.length > before) return undefined;
  const values = expansion.variants.map(({ index, label, value, x }) => ({
    index,
    label,
    value,
    ...(x !== undefined ? { x } : {}),
  }));
  return { vary: (input.study as { vary: string }).vary, kind: expansion.kind, values, experiments };
}

function capped(ps: Problem[]): Problem[] {
  if (ps.length <= MAX_PROBLEMS) return ps;
  const note: Problem = {
    ...ps[MAX_PROBLEMS - 1],
    message: 'more problems not shown; fix the ones above first',
    severity: 'error',
  };
  delete note.suggestion;
  delete note.kind;
  return [...ps.slice(0, MAX_PROBLEMS - 1), note];
}

function dedupe(ps: Problem[]): Problem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.line}:${p.column}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
