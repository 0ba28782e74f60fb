/**
 * What a run may override of its experiment file (the CLI's --backend/--seeds/--steps/--methods,
 * the sidecar's `aft/run` parameters), checked by the file's own field schemas, so that an
 * override can never be what the file may not say (steps past the cap, negative or fractional
 * seeds, an unknown backend).
 */
import { z } from 'zod';
import { badInput, type SourceLocation } from '../../common/util/errors';
import { experimentSchema, trainSchema, type Experiment } from './schema';

export const overridesSchema = z.strictObject({
  backend: experimentSchema.shape.backend.unwrap().optional(),
  seeds: experimentSchema.shape.seeds.unwrap().optional(),
  steps: trainSchema.shape.steps.unwrap().optional(),
  methods: z.array(z.string().min(1)).min(1).optional(),
});

export type Overrides = z.infer<typeof overridesSchema>;
export type OverrideKey = keyof Overrides;

/** Where overrides came from, for messages: `aft run` and its `--flag`s, or `aft/run` and its parameters. */
export interface OverrideOrigin {
  file: string;
  field: (key: OverrideKey) => string;
}

export const CLI_ORIGIN = (command: string): OverrideOrigin => ({ file: `aft ${command}`, field: (k) => `--${k}` });
export const RPC_ORIGIN: OverrideOrigin = { file: 'aft/run', field: (k) => k };

const describe = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? typeof v : s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

/**
 * Checks overrides; throws a bad-input error naming the flag or parameter, what was expected and
 * what was found. Keys that are absent (or undefined) leave the file's value.
 */
export function parseOverrides(raw: unknown, origin: OverrideOrigin): Overrides {
  const input =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? Object.fromEntries(Object.entries(raw).filter(([k, v]) => v !== undefined && k in overridesSchema.shape))
      : raw;
  const r = overridesSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue.path[0] as OverrideKey | undefined;
  const at: SourceLocation = {
    file: origin.file,
    ...(key !== undefined
      ? {
          field: `${origin.field(key)}${issue.path
            .slice(1)
            .map((p) => `[${String(p)}]`)
            .join('')}`,
        }
      : {}),
  };
  let found: unknown = input;
  for (const p of issue.path) found = (found as Record<PropertyKey, unknown> | undefined)?.[p];
  const expected = issue.message.replace(/^(Invalid input|Invalid option|Too big|Too small): /, '');
  throw badInput(`${expected}; found ${describe(found)}`, at);
}

/**
 * The CLI's flags as override values: numbers where they are numbers (so that `--steps 1e12` is
 * refused for its size and `--steps abc` for not being a number), lists split at commas.
 */
export function cliOverrides(v: {
  backend?: string;
  seeds?: string;
  steps?: string;
  methods?: string;
}): Record<string, unknown> {
  const num = (s: string): number | string => (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s.trim()) ? Number(s) : s);
  const list = (s: string): string[] =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return {
    ...(v.backend !== undefined ? { backend: v.backend } : {}),
    ...(v.seeds !== undefined ? { seeds: list(v.seeds).map(num) } : {}),
    ...(v.steps !== undefined ? { steps: num(v.steps) } : {}),
    ...(v.methods !== undefined ? { methods: list(v.methods) } : {}),
  };
}

/** The experiment with checked overrides applied; `methodNames` are the file's methods' names in order. */
export function withOverrides(
  exp: Experiment,
  o: Overrides,
  methodNames: string[],
  origin: OverrideOrigin,
): Experiment {
  let methods = exp.methods;
  if (o.methods) {
    const unknown = o.methods.filter((m) => !methodNames.includes(m));
    if (unknown.length)
      throw badInput(`unknown method ${unknown.join(', ')}; this experiment has ${methodNames.join(', ')}`, {
        file: origin.file,
        field: origin.field('methods'),
      });
    methods = exp.methods.filter((_, i) => o.methods!.includes(methodNames[i]));
  }
  return {
    ...exp,
    methods,
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    ...(o.seeds !== undefined ? { seeds: o.seeds } : {}),
    ...(o.steps !== undefined ? { train: { ...exp.train, steps: o.steps } } : {}),
  };
}
