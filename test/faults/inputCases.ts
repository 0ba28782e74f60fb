/**
 * The bad-input fault cases (test/faults/cases/inputs/<kind>/<name>.*) and what lays their files
 * down. A case is an experiment file whose leading comments say what to expect, or a JSON file:
 *
 *   {
 *     "about": "what a user (or the outside probe) tried",
 *     "files": { "<path in the workspace>": <file>, ... },
 *     "cli": ["validate", "exp.aft.yaml"],                  the `aft` command, or
 *     "rpc": { "method": "aft/run", "params": {...} },      a request to the sidecar, or
 *     "frames": [<frame>, ...],                              raw bytes to the sidecar, or
 *     "lsp": { "open": "exp.aft.yaml" },                     a document for the language server
 *     "env": { "NAME": "value" },                            (CLI only)
 *     "expect": {
 *       "exit": 2,                    CLI exit code (default 2)
 *       "kind": "bad_input",          RPC error kind (default bad_input)
 *       "message": "regex",           what the message must say: the file, the field, what was expected
 *       "withinMs": 20000,            the time bound (default 20 s)
 *       "event": "regex",             aft/run: no error, but a failed status event saying this
 *       "runFolder": "failed",        the run trained, then failed: its folder stays, status.json says failed, no stack
 *       "replies": [{ "id": null, "code": -32700, "message": "regex" }, { "id": "b", "result": true }]
 *     }
 *   }
 *
 * Strings may say ${ws} (the case's workspace) and ${fixtures} (test/fixtures). A <file> is a
 * string (its text), or one of:
 *   {"experiment": "npy"|"features"|"onnx"|"text"|"mnist", "set": {"dotted.path": value}}
 *   {"npy": {"descr", "fortran", "shape", "values", "dataBytes", "major", "header"}}
 *   {"safetensors": {"tensors": {name: {dtype, shape, values}}} | {"header": {...}, "dataBytes"} | {"headerText", "length"}}
 *   {"json": value}  {"base64": "..."}  {"repeat": "text", "times": n}
 *   {"copy": "<path under test/fixtures>", "truncate": bytes}  {"patchJson": {"from": path, "set": {...}}}
 *   {"fifo": true}  {"symlink": "/dev/zero"}  {"dir": true}
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const CASES = path.join(__dirname, 'cases', 'inputs');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Expect {
  exit?: number;
  kind?: string;
  message?: string;
  withinMs?: number;
  event?: string;
  /** The run may keep its folder when it failed after training started: its status.json must say failed, with no stack. */
  runFolder?: 'failed';
  replies?: { id?: string | number | null; code?: number; message?: string; result?: boolean }[];
}

export type Frame =
  | string
  | { message: Json; contentLength?: string | number; repeat?: { text: string; times: number } }
  | { raw: string }
  | { bytes: string };

export interface Case {
  kind: string;
  name: string;
  about: string;
  files: Record<string, unknown>;
  cli?: string[];
  rpc?: { method: string; params?: Json };
  frames?: Frame[];
  lsp?: { open: string };
  env?: Record<string, string>;
  expect: Expect;
}

/** Every case, by kind and name. */
export function loadCases(): Case[] {
  const out: Case[] = [];
  for (const kind of fs.readdirSync(CASES).sort()) {
    for (const file of fs.readdirSync(path.join(CASES, kind)).sort()) {
      const full = path.join(CASES, kind, file);
      if (file.endsWith('.json')) {
        const spec = JSON.parse(fs.readFileSync(full, 'utf8')) as Omit<Case, 'kind' | 'name'>;
        out.push({ ...spec, files: spec.files ?? {}, kind, name: file.replace(/\.json$/, '') });
      } else if (file.endsWith('.aft.yaml')) {
        out.push(yamlCase(kind, file, fs.readFileSync(full, 'utf8')));
      }
    }
  }
  return out;
}

/**
 * An experiment file as a case: its leading comments say `# expect: <regex>`, and optionally
 * `# cli: run` (default: validate), `# exit: N`, `# about: ...`.
 */
function yamlCase(kind: string, file: string, text: string): Case {
  const meta: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^#\s*(expect|cli|exit|about|within):\s*(.*)$/.exec(line);
    if (m) meta[m[1]] = m[2].trim();
    else if (!line.startsWith('#')) break;
  }
  if (!meta.expect) throw new Error(`${kind}/${file}: no "# expect: <regex>" line`);
  return {
    kind,
    name: file.replace(/\.aft\.yaml$/, ''),
    about: meta.about ?? 'an experiment file',
    files: { 'exp.aft.yaml': text },
    cli: [meta.cli ?? 'validate', 'exp.aft.yaml'],
    expect: {
      message: meta.expect,
      ...(meta.exit ? { exit: Number(meta.exit) } : {}),
      ...(meta.within ? { withinMs: Number(meta.within) } : {}),
    },
  };
}

export function substitute<T>(v: T, ws: string): T {
  if (typeof v === 'string') return v.replaceAll('${ws}', ws).replaceAll('${fixtures}', FIXTURES) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => substitute(x, ws)) as T;
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, ws)])) as T;
  return v;
}

const BASES: Record<string, Json> = {
  mnist: {
    name: 'fault',
    dataset: { source: 'mnist', train: 100, test: 100 },
    methods: ['stl'],
    train: { steps: 2, batch: 8 },
    backend: 'cpu',
  },
  npy: {
    name: 'fault',
    dataset: {
      source: 'npy',
      train: { inputs: '${fixtures}/data/x_train.npy', labels: '${fixtures}/data/y_train.npy' },
      test: { inputs: '${fixtures}/data/x_test.npy', labels: '${fixtures}/data/y_test.npy' },
    },
    downstream: { model: 'mlp', hidden: [8] },
    methods: ['stl'],
    train: { steps: 2, batch: 8 },
    backend: 'cpu',
  },
  text: {
    name: 'fault',
    dataset: {
      source: 'text',
      train: '${fixtures}/hf/reviews.csv',
      text: 'sentence',
      label: 'label',
      tokenizer: 'tokenizer.json',
      max_length: 16,
      test_fraction: 0.25,
    },
    downstream: { model: 'transformer', layers: 1, width: 16, heads: 2, hidden: [16] },
    methods: ['stl'],
    train: { steps: 2, batch: 4 },
    backend: 'cpu',
  },
};
BASES.features = {
  ...(BASES.npy as Record<string, Json>),
  pretrained: [{ name: 'f', features: { train: '${fixtures}/data/f_train.npy', test: '${fixtures}/data/f_test.npy' } }],
  methods: ['stl', 'aft'],
  beta: { aft: 1 },
};
BASES.onnx = {
  ...(BASES.npy as Record<string, Json>),
  pretrained: [{ name: 'm', onnx: { model: 'model.onnx' } }],
  methods: ['stl', 'aft'],
  beta: { aft: 1 },
};

function setPath(obj: Json, dotted: string, value: Json): void {
  const keys = dotted.split('.');
  let node = obj as Record<string, Json>;
  for (const k of keys.slice(0, -1)) {
    node[k] ??= /^\d+$/.test(k) ? [] : {};
    node = node[k] as Record<string, Json>;
  }
  const last = keys[keys.length - 1];
  if (value === null) delete node[last];
  else node[last] = value;
}

type Values =
  number[] | string[] | { fill?: number; cycle?: number[]; count: number; at?: Record<string, number | string> };

function expand(v: Values | undefined, count: number): (number | string)[] {
  if (v === undefined) return new Array<number>(count).fill(0);
  if (Array.isArray(v)) return v;
  const out: (number | string)[] = Array.from({ length: v.count }, (_, i) =>
    v.cycle ? v.cycle[i % v.cycle.length] : (v.fill ?? 0),
  );
  for (const [i, x] of Object.entries(v.at ?? {})) out[Number(i)] = x;
  return out;
}

const NPY_ITEM: Record<string, [number, (b: Buffer, v: number | string, at: number) => void]> = {
  '<f4': [4, (b, v, at) => b.writeFloatLE(Number(v), at)],
  '<f8': [8, (b, v, at) => b.writeDoubleLE(Number(v), at)],
  '<i4': [4, (b, v, at) => b.writeInt32LE(Number(v), at)],
  '<i8': [8, (b, v, at) => b.writeBigInt64LE(BigInt(v), at)],
  '|u1': [1, (b, v, at) => b.writeUInt8(Number(v), at)],
  F32: [4, (b, v, at) => b.writeFloatLE(Number(v), at)],
  F64: [8, (b, v, at) => b.writeDoubleLE(Number(v), at)],
  I64: [8, (b, v, at) => b.writeBigInt64LE(BigInt(v), at)],
};

function packValues(dtype: string, values: (number | string)[]): Buffer {
  const [size, write] = NPY_ITEM[dtype] ?? NPY_ITEM['<f4'];
  const b = Buffer.alloc(values.length * size);
  values.forEach((v, i) => write(b, v, i * size));
  return b;
}

interface NpySpec {
  descr?: string;
  fortran?: string;
  shape: string | number[];
  values?: Values;
  dataBytes?: number;
  major?: number;
  header?: string;
}

function npyBytes(s: NpySpec): Buffer {
  const descr = s.descr ?? '<f4';
  const shape =
    typeof s.shape === 'string' ? s.shape : s.shape.length === 1 ? `(${s.shape[0]},)` : `(${s.shape.join(', ')})`;
  let header = s.header ?? `{'descr': '${descr}', 'fortran_order': ${s.fortran ?? 'False'}, 'shape': ${shape}, }`;
  const major = s.major ?? 1;
  const pre = major === 1 ? 10 : 12;
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = major;
  if (major === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  const count = typeof s.shape === 'string' ? 0 : s.shape.reduce((a, b) => a * b, 1);
  const data = s.dataBytes !== undefined ? Buffer.alloc(s.dataBytes) : packValues(descr, expand(s.values, count));
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

interface StSpec {
  tensors?: Record<string, { dtype: string; shape: number[]; values?: Values }>;
  header?: Json;
  headerText?: string;
  dataBytes?: number;
  length?: number;
}

function safetensorsBytes(s: StSpec): Buffer {
  let headerText: string;
  let data: Buffer;
  if (s.tensors) {
    const header: Record<string, Json> = {};
    const parts: Buffer[] = [];
    let offset = 0;
    for (const [name, t] of Object.entries(s.tensors)) {
      const bytes = packValues(
        t.dtype,
        expand(
          t.values,
          t.shape.reduce((a, b) => a * b, 1),
        ),
      );
      header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
      parts.push(bytes);
      offset += bytes.length;
    }
    headerText = JSON.stringify(header);
    data = Buffer.concat(parts);
  } else {
    headerText = s.headerText ?? JSON.stringify(s.header ?? {});
    data = Buffer.alloc(s.dataBytes ?? 0);
  }
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(s.length ?? Buffer.byteLength(headerText)));
  return Buffer.concat([len, Buffer.from(headerText), data]);
}

/** Writes a case's files into its workspace, in order. */
export function layDown(ws: string, files: Record<string, unknown>): void {
  for (const [rel, raw] of Object.entries(files)) {
    const spec = substitute(raw, ws) as Record<string, unknown> | string;
    const file = path.join(ws, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (typeof spec === 'string') {
      fs.writeFileSync(file, spec);
    } else if ('experiment' in spec) {
      const exp = substitute(structuredClone(BASES[spec.experiment as string]), ws);
      for (const [k, v] of Object.entries((spec.set ?? {}) as Record<string, Json>)) setPath(exp, k, v);
      fs.writeFileSync(file, JSON.stringify(exp, null, 1) + '\n');
    } else if ('npy' in spec) {
      fs.writeFileSync(file, npyBytes(spec.npy as NpySpec));
    } else if ('safetensors' in spec) {
      fs.writeFileSync(file, safetensorsBytes(spec.safetensors as StSpec));
    } else if ('json' in spec) {
      fs.writeFileSync(file, JSON.stringify(spec.json));
    } else if ('base64' in spec) {
      fs.writeFileSync(file, Buffer.from(spec.base64 as string, 'base64'));
    } else if ('repeat' in spec) {
      fs.writeFileSync(file, (spec.repeat as string).repeat(spec.times as number));
    } else if ('copy' in spec) {
      const from = path.join(FIXTURES, spec.copy as string);
      fs.cpSync(from, file, { recursive: true });
      if (typeof spec.truncate === 'number') fs.truncateSync(file, spec.truncate);
    } else if ('patchJson' in spec) {
      const p = spec.patchJson as { from: string; set: Record<string, Json> };
      const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, p.from), 'utf8')) as Json;
      for (const [k, v] of Object.entries(p.set)) setPath(json, k, v);
      fs.writeFileSync(file, JSON.stringify(json));
    } else if ('fifo' in spec) {
      fs.rmSync(file, { force: true });
      const r = spawnSync('mkfifo', [file]);
      if (r.status !== 0) throw new Error(`mkfifo ${file}: ${r.stderr.toString()}`);
    } else if ('symlink' in spec) {
      fs.rmSync(file, { force: true });
      fs.symlinkSync(spec.symlink as string, file);
    } else if ('dir' in spec) {
      fs.mkdirSync(file, { recursive: true });
    } else {
      throw new Error(`unknown file spec for ${rel}: ${JSON.stringify(spec)}`);
    }
  }
}

/** The bytes of a raw frame for the sidecar. */
export function frameBytes(f: Frame, ws: string): Buffer {
  if (typeof f === 'string') return Buffer.from(substitute(f, ws).replaceAll('\\r\\n', '\r\n'));
  if ('raw' in f) return Buffer.from(substitute(f.raw, ws));
  if ('bytes' in f) return Buffer.from(f.bytes, 'base64');
  let body = Buffer.from(JSON.stringify(substitute(f.message, ws)));
  if (f.repeat)
    body = Buffer.from(body.toString().replace('"${pad}"', JSON.stringify(f.repeat.text.repeat(f.repeat.times))));
  const length =
    f.contentLength === undefined
      ? String(body.length)
      : typeof f.contentLength === 'number'
        ? String(f.contentLength)
        : /^[+-]\d+$/.test(f.contentLength)
          ? String(body.length + Number(f.contentLength))
          : f.contentLength;
  return Buffer.concat([Buffer.from(`Content-Length: ${length}\r\n\r\n`), body]);
}
