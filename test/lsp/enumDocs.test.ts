/**
 * Every enum value is documented, and the editor shows it: the generated JSON Schema is walked
 * for every enum (with the path it sits at and the constants that choose its union branch), and
 * for each value a document holding it is opened over LSP, hovered and completed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CompletionItem, Hover, MarkupContent } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseDocument, stringify, type Scalar } from 'yaml';
import { SCHEMA_FILE } from '../../scripts/gen-schema';
import { fieldLabel, type JsonSchema } from '../../language-server/src/schema';
import { fileUri, LspClient } from './harness';

interface EnumSite {
  path: (string | number)[];
  values: string[];
  descriptions: string[] | undefined;
  /** The document around the value: the constants of every object on the way (`source: images`). */
  build(value: string): Record<string, unknown>;
}

/** Every enum in the schema, where it is, and how to write a document that reaches it. */
function enumSites(schema: JsonSchema): EnumSite[] {
  const out: EnumSite[] = [];
  const walk = (s: JsonSchema, at: (string | number)[], wrap: (leaf: unknown) => unknown): void => {
    for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) walk(alt, at, wrap);
    if (s.enum) {
      const values = s.enum.filter((v): v is string => typeof v === 'string');
      out.push({
        path: at,
        values,
        descriptions: s.markdownEnumDescriptions,
        build: (v) => wrap(v) as Record<string, unknown>,
      });
    }
    if (s.items) walk(s.items, [...at, 0], (leaf) => wrap([leaf]));
    const props = s.properties ?? {};
    const consts = Object.fromEntries(
      Object.entries(props).flatMap(([k, p]) => (p.const !== undefined ? [[k, p.const]] : [])),
    );
    for (const [k, p] of Object.entries(props)) walk(p, [...at, k], (leaf) => wrap({ ...consts, [k]: leaf }));
  };
  walk(schema, [], (leaf) => leaf);
  return out;
}

const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as JsonSchema;
const sites = enumSites(schema);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-enum-docs-'));
let n = 0;

describe('enum values: documented in the schema, shown by hover and completion', () => {
  let client: LspClient;
  before(async () => {
    client = await LspClient.start();
  });
  after(() => client.dispose());

  /** Opens the YAML of `data` and returns a function from a path to the LSP position of its value. */
  const open = async (
    data: unknown,
  ): Promise<{ uri: string; at: (p: (string | number)[]) => { line: number; character: number } }> => {
    const text = stringify(data);
    const uri = fileUri(path.join(dir, `doc${n++}.aft.yaml`));
    await client.open(uri, text);
    const doc = parseDocument(text);
    const td = TextDocument.create(uri, 'aft-experiment', 1, text);
    return {
      uri,
      at: (p) => {
        const node = doc.getIn(p, true) as Scalar | undefined;
        assert.ok(node?.range, `no value at ${fieldLabel(p)} in\n${text}`);
        return td.positionAt(node.range[0]);
      },
    };
  };
  const hoverAt = async (uri: string, position: { line: number; character: number }): Promise<string> => {
    const h = await client.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position });
    return h ? (h.contents as MarkupContent).value : '';
  };

  it('the schema has the enums the experiment format is known to have', () => {
    const labels = new Set(sites.map((s) => fieldLabel(s.path)));
    for (const want of [
      'methods[]',
      'methods[].method',
      'methods[].kernel',
      'methods[].rho',
      'backend',
      'pretrained[].onnx.pooling',
      'pretrained[].onnx.device',
      'pretrained[].onnx.preprocess.resample',
      'train.optimizer',
      'dataset.unreadable',
    ]) {
      assert.ok(labels.has(want), `no enum at ${want} (found: ${[...labels].join(', ')})`);
    }
  });

  it('every enum has a description for every value (markdownEnumDescriptions)', () => {
    const missing = sites.flatMap((s) =>
      s.values.flatMap((v, i) =>
        typeof s.descriptions?.[i] === 'string' && s.descriptions[i].trim() ? [] : [`${fieldLabel(s.path)}: ${v}`],
      ),
    );
    assert.deepEqual(missing, []);
    for (const s of sites)
      assert.equal(s.descriptions?.length, s.values.length, `${fieldLabel(s.path)}: one description per value`);
  });

  for (const site of sites) {
    const label = fieldLabel(site.path);
    it(`hover shows each value's description: ${label}`, async () => {
      for (const [i, value] of site.values.entries()) {
        const d = await open(site.build(value));
        const text = await hoverAt(d.uri, d.at(site.path));
        assert.ok(text.includes(`**\`${value}\`** · a value of \`${label}\``), `hover of ${label}: ${value}:\n${text}`);
        assert.ok(
          text.includes(site.descriptions?.[i] ?? '<none>'),
          `hover of ${label}: ${value} lacks its description:\n${text}`,
        );
      }
    });

    it(`completion items carry each value's description: ${label}`, async () => {
      const d = await open(site.build(site.values[0]));
      const items = await client.request<CompletionItem[]>('textDocument/completion', {
        textDocument: { uri: d.uri },
        position: d.at(site.path),
      });
      for (const [i, value] of site.values.entries()) {
        const item = items.find((x) => x.label === value);
        assert.ok(item, `no completion ${value} at ${label} (got ${items.map((x) => x.label).join(', ')})`);
        const doc = (item.documentation as MarkupContent | undefined)?.value ?? '';
        assert.ok(
          doc.includes(site.descriptions?.[i] ?? '<none>'),
          `completion ${value} at ${label} lacks its description:\n${doc}`,
        );
      }
    });
  }

  it('hovers the values a user types, in context', async () => {
    const d = await open({
      name: 'x',
      dataset: { source: 'mnist' },
      methods: ['rkd', { name: 'f', method: 'ft' }, { name: 'a', method: 'aft', rho: 'identity' }],
      backend: 'wasm',
    });
    assert.match(await hoverAt(d.uri, d.at(['methods', 0])), /\*\*`rkd`\*\*[\s\S]*Relational knowledge distillation/);
    const ft = await hoverAt(d.uri, d.at(['methods', 1, 'method']));
    assert.match(ft, /Factor transfer[\s\S]*autoencoder[\s\S]*L2-normalised[\s\S]*codes[\s\S]*L1/);
    assert.match(ft, /Allowed: `stl`, `kd`/);
    assert.match(await hoverAt(d.uri, d.at(['methods', 2, 'rho'])), /frozen at 0\.5/);
    assert.match(await hoverAt(d.uri, d.at(['backend'])), /\*\*`wasm`\*\* · a value of `backend`[\s\S]*XNNPACK/);
  });
});
