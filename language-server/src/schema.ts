/**
 * The experiment JSON Schema, generated from the zod schema the sidecar validates with (never a
 * copy), and the questions hover and completion ask of it: which schemas apply at a path,
 * which keys and values they allow, and what they say about them.
 */
import { experimentJsonSchema } from '../../core/node/experiment/schema';

export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  /** Per-value documentation, as VS Code's JSON and YAML support read it. */
  enumDescriptions?: string[];
  markdownEnumDescriptions?: string[];
}

export type YamlPath = readonly (string | number)[];

let root: JsonSchema | undefined;
export function rootSchema(): JsonSchema {
  return (root ??= experimentJsonSchema() as JsonSchema);
}

/** The alternatives of a schema with its unions flattened. */
export function branches(s: JsonSchema): JsonSchema[] {
  const alts = [...(s.anyOf ?? []), ...(s.oneOf ?? [])];
  return alts.length ? alts.flatMap(branches) : [s];
}

/**
 * Keeps the object branches that fit a value: those whose constants (`source: npy`) it matches
 * and that know the keys it has. With no value, or when nothing fits, all branches stay.
 */
function narrow(ss: JsonSchema[], value: unknown): JsonSchema[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return ss;
  const obj = value as Record<string, unknown>;
  const fits = ss.filter((s) => {
    if (!s.properties) return false;
    return Object.entries(s.properties).every(
      ([k, p]) => p.const === undefined || obj[k] === undefined || obj[k] === p.const,
    );
  });
  if (fits.length <= 1) return fits.length ? fits : ss;
  const known = (s: JsonSchema): number => Object.keys(obj).filter((k) => s.properties?.[k]).length;
  const best = Math.max(...fits.map(known));
  return best > 0 ? fits.filter((s) => known(s) === best) : fits;
}

function valueAt(value: unknown, path: YamlPath): unknown {
  let cur = value;
  for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[p] : undefined;
  return cur;
}

/** The schemas that apply at `path` of a document whose JS value is `doc` (for choosing union branches). */
export function schemasAt(path: YamlPath, doc?: unknown): JsonSchema[] {
  let nodes = narrow(branches(rootSchema()), doc);
  for (let i = 0; i < path.length; i++) {
    const p = path[i];
    const here = valueAt(doc, path.slice(0, i + 1));
    nodes = nodes.flatMap((s) => {
      if (typeof p === 'number') return s.items ? [s.items] : [];
      const child =
        s.properties?.[p] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      return child ? [child] : [];
    });
    // Keep the union's own description (on the wrapper) next to the branches it chose.
    nodes = nodes.flatMap((s) =>
      s.anyOf || s.oneOf
        ? [{ ...s, anyOf: undefined, oneOf: undefined, type: undefined }, ...narrow(branches(s), here)]
        : [s],
    );
  }
  return nodes;
}

/** Keys allowed in the mapping at `path`, each with the first description found. */
export function keysAt(path: YamlPath, doc?: unknown): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const s of schemasAt(path, doc))
    for (const [k, v] of Object.entries(s.properties ?? {})) if (!out.has(k)) out.set(k, v);
  return out;
}

export interface EnumValue {
  value: string;
  /** Documentation of this one value, when the schema has per-value descriptions. */
  description?: string;
}

/** Values an enum or constant at `path` allows (methods, kernels, ρ kinds, backends, ...). */
export function valuesAt(path: YamlPath, doc?: unknown): EnumValue[] {
  const out = new Map<string, EnumValue>();
  for (const s of schemasAt(path, doc)) {
    const values = s.enum ?? (s.const !== undefined ? [s.const] : []);
    values.forEach((v, i) => {
      const d = s.markdownEnumDescriptions?.[i] ?? s.enumDescriptions?.[i];
      if (typeof v === 'string' && !out.has(v)) out.set(v, { value: v, ...(d ? { description: d } : {}) });
    });
  }
  return [...out.values()];
}

/** Markdown documentation of the field at `path`: what it is, its type and range, its default. */
export function describeField(path: YamlPath, doc?: unknown): string | undefined {
  const ss = schemasAt(path, doc);
  const descriptions = [...new Set(ss.map((s) => s.description).filter((d): d is string => Boolean(d)))];
  if (!descriptions.length) return undefined;
  const facts = [...new Set(ss.map(facts1).filter(Boolean))].join(' | ');
  const name = path.length ? fieldLabel(path) : 'experiment';
  return [`**${name}**${facts ? ` · ${facts}` : ''}`, '', ...descriptions.map((d) => d + '\n')].join('\n').trim();
}

function facts1(s: JsonSchema): string {
  const parts: string[] = [];
  const values = s.enum ?? (s.const !== undefined ? [s.const] : undefined);
  if (values) parts.push(values.map((v) => `\`${scalarText(v)}\``).join(', '));
  else if (s.type) parts.push(Array.isArray(s.type) ? s.type.join(' or ') : s.type);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined && s.minimum !== 0) parts.push(`≥ ${s.minimum}`);
  if (s.minimum === 0) parts.push('≥ 0');
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  if (s.minItems) parts.push(`at least ${s.minItems}`);
  if (s.default !== undefined && (typeof s.default !== 'object' || Array.isArray(s.default)))
    parts.push(`default \`${JSON.stringify(s.default)}\``);
  return parts.join(', ');
}

/** `train.batch`, `methods[]`, `pretrained[].features.train`. */
export function fieldLabel(path: YamlPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? '[]' : s ? `.${p}` : p;
  return s;
}

/** A value to write for a field that must be added: its constant, first choice, or an empty form. */
export function placeholder(path: YamlPath, doc?: unknown, depth = 0): string {
  const s = schemasAt(path, doc).find((x) => x.type || x.enum || x.const !== undefined || x.properties);
  if (!s) return '""';
  const first = s.const ?? s.enum?.[0];
  if (first !== undefined) return scalarText(first);
  if (s.properties && depth < 3) {
    const req = s.required ?? [];
    return req.length ? `{ ${req.map((k) => `${k}: ${placeholder([...path, k], doc, depth + 1)}`).join(', ')} }` : '{}';
  }
  if (s.type === 'array') return s.minItems ? `[${placeholder([...path, 0], doc, depth + 1)}]` : '[]';
  if (s.type === 'integer' || s.type === 'number')
    return scalarText(s.default ?? s.minimum ?? (s.exclusiveMinimum ?? 0) + 1);
  return '""';
}

/** A JSON value as it reads in YAML flow style. */
export function scalarText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
