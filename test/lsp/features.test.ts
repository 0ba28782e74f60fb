/** Hover, completion, quick fixes, code lenses and the outline, over real LSP messages. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type {
  CodeAction,
  CodeLens,
  CompletionItem,
  Diagnostic,
  DocumentSymbol,
  Hover,
  MarkupContent,
  TextEdit,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PATH_FIELDS } from '../../language-server/src/pathCompletion';
import { referencedPaths } from '../../core/node/experiment/semantics';
import { validateExperimentText } from '../../core/node/experiment/validate';
import { fileUri, LspClient } from './harness';

const fixtures = path.join(__dirname, '..', 'fixtures', 'lsp');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-lsp-'));
fs.mkdirSync(path.join(dir, 'data', 'nested'), { recursive: true });
for (const f of ['x.npy', 'y.npy', 'f.safetensors', 'notes.txt', 'nested/deep.npy'])
  fs.writeFileSync(path.join(dir, 'data', f), '');

let n = 0;
/** A new document in the temporary folder: its URI and `at(marker)`, the position of a marker's first character. */
function doc(text: string): {
  uri: string;
  text: string;
  at: (marker: string, delta?: number) => { line: number; character: number };
} {
  const uri = fileUri(path.join(dir, `doc${n++}.aft.yaml`));
  const td = TextDocument.create(uri, 'aft-experiment', 1, text);
  return {
    uri,
    text,
    at: (marker, delta = 0) => {
      const i = text.indexOf(marker);
      assert.ok(i >= 0, `no ${marker} in the text`);
      return td.positionAt(i + delta);
    },
  };
}

const VALID = `name: demo
dataset: { source: mnist, train: 500, test: 2000 }
pretrained:
  - { name: teacher, builtin: mnist-teacher }
  - name: noise
    noise: 16
methods:
  - stl
  - aft
  - { name: aft-rbf, method: aft, kernel: rbf }
train:
  steps: 100
  batch: 32
backend: auto
`;

describe('language features', () => {
  let client: LspClient;
  before(async () => {
    client = await LspClient.start();
  });
  after(() => client.dispose());

  const hoverText = async (d: ReturnType<typeof doc>, marker: string, delta = 0): Promise<string> => {
    const h = await client.request<Hover | null>('textDocument/hover', {
      textDocument: { uri: d.uri },
      position: d.at(marker, delta),
    });
    return h ? (h.contents as MarkupContent).value : '';
  };

  it('hovers keys with the schema description, type, range and default', async () => {
    const d = doc(VALID);
    await client.open(d.uri, d.text);
    assert.match(
      await hoverText(d, 'batch'),
      /\*\*train\.batch\*\* · integer, > 0, ≤ 65536, default `128`[\s\S]*Batch size\./,
    );
    assert.match(await hoverText(d, 'noise: 16'), /Width D of i\.i\.d\. N\(0,1\) features/);
    assert.match(await hoverText(d, 'source'), /The 10,000 real MNIST digits/);
  });

  it('hovers enum values: methods, kernels, backends, source kinds', async () => {
    const d = doc(VALID);
    await client.open(d.uri, d.text);
    const aft = await hoverText(d, '- aft', 2);
    assert.match(aft, /\*\*`aft`\*\* · a value of `methods\[\]`/);
    assert.match(aft, /Allowed: `stl`, `kd`, `aft`/);
    assert.match(
      await hoverText(d, 'kernel: rbf', 8),
      /\*\*`rbf`\*\* · a value of `methods\[\]\.kernel`[\s\S]*AFT kernel/,
    );
    assert.match(await hoverText(d, 'auto'), /Compute backend/);
    assert.match(await hoverText(d, 'mnist,'), /a value of `dataset.source`/);
    assert.match(await hoverText(d, 'mnist-teacher'), /a value of `pretrained\[\]\.builtin`/);
  });

  it('hovers free-form keys (a method under beta) with the parent field', async () => {
    const d = doc('name: b\ndataset: { source: mnist }\nmethods: [stl]\nbeta: { kd: 1 }\n');
    await client.open(d.uri, d.text);
    assert.match(await hoverText(d, 'kd'), /Regularisation strength β/);
  });

  const complete = async (text: string, marker: string, delta = 0): Promise<CompletionItem[]> => {
    const d = doc(text);
    await client.open(d.uri, d.text);
    return client.request<CompletionItem[]>('textDocument/completion', {
      textDocument: { uri: d.uri },
      position: d.at(marker, delta),
    });
  };
  const labels = (items: CompletionItem[]): string[] => items.map((i) => i.label);

  it('completes top-level keys that are not there yet', async () => {
    const items = await complete('name: x\nmethods: [stl]\nda|\n', 'da|', 2);
    assert.ok(labels(items).includes('dataset'));
    assert.ok(!labels(items).includes('name') && !labels(items).includes('methods'));
    const ds = items.find((i) => i.label === 'dataset');
    assert.equal((ds?.textEdit as TextEdit).newText, 'dataset: ');
    assert.match((ds?.documentation as MarkupContent).value, /The downstream task/);
  });

  it('completes keys of nested mappings, block and flow, following the chosen union branch', async () => {
    assert.deepEqual(labels(await complete('train:\n  steps: 1\n  \n', '  \n', 2)).sort(), [
      'batch',
      'eval_every',
      'lr',
      'optimizer',
      'prior_lr',
      'schedule',
      'weight_decay',
    ]);
    assert.ok(labels(await complete('train:\n  \n', '  \n', 2)).includes('steps'));
    const npy = labels(await complete('dataset: { source: npy, tr }\n', 'tr }', 2));
    assert.deepEqual(npy.sort(), ['classes', 'test', 'train', 'train_limit']);
    const mnist = labels(await complete('dataset: { source: mnist,  }\n', ',  }', 2));
    assert.deepEqual(mnist.sort(), ['split_seed', 'test', 'train']);
  });

  it('completes enum values: methods, kernels, ρ kinds, backends, devices', async () => {
    assert.deepEqual(labels(await complete('methods: [stl, ]\n', ', ]', 2)).slice(0, 4), [
      'stl',
      'kd',
      'aft',
      'aft-no-kernel',
    ]);
    assert.deepEqual(labels(await complete('methods:\n  - a\n', '- a', 3)).slice(0, 2), ['stl', 'kd']);
    assert.deepEqual(labels(await complete('methods:\n  - { name: x, method: aft, kernel:  }\n', 'kernel: ', 8)), [
      'linear',
      'rbf',
    ]);
    assert.deepEqual(labels(await complete('methods:\n  - { name: x, method: aft, rho:  }\n', 'rho: ', 5)), [
      'sigmoid',
      'dense',
      'identity',
    ]);
    assert.deepEqual(labels(await complete('backend: \n', 'backend: ', 9)), [
      'auto',
      'gpu',
      'webgpu',
      'native',
      'wasm',
      'cpu',
    ]);
    const devices = labels(
      await complete('pretrained:\n  - name: m\n    onnx: { model: m.onnx, device:  }\n', 'device: ', 8),
    );
    assert.ok(devices.includes('cpu') && devices.includes('auto'), devices.join());
    assert.deepEqual(labels(await complete('dataset:\n  source: \n', 'source: ', 8)).slice(0, 2), ['mnist', 'npy']);
  });

  it('completes ONNX input and output names from the model graph', async () => {
    const model = path.join(fixtures, 'models', 'tiny.onnx');
    assert.deepEqual(
      labels(await complete(`pretrained:\n  - name: m\n    onnx: { model: ${model}, input:  }\n`, 'input: ', 7)),
      ['pixel_values', 'attention_mask'],
    );
    const folder = path.join(fixtures, 'models', 'hf');
    assert.deepEqual(
      labels(
        await complete(
          `pretrained:\n  - name: m\n    onnx:\n      folder: ${folder}\n      output: p\n`,
          'output: p',
          9,
        ),
      ),
      ['pooler_output', 'last_hidden_state'],
    );
  });

  it('completes file paths relative to the file, filtered by what the field accepts', async () => {
    const top = labels(await complete('dataset:\n  source: npy\n  train: { inputs: d }\n', 'inputs: d', 9));
    assert.deepEqual(top, ['data/']);
    const inData = await complete('dataset:\n  source: npy\n  train: { inputs: data/ }\n', 'data/ }', 5);
    assert.deepEqual(labels(inData).sort(), ['nested/', 'x.npy', 'y.npy']);
    assert.equal((inData.find((i) => i.label === 'x.npy')?.textEdit as TextEdit).newText, 'data/x.npy');
    const features = labels(await complete('pretrained:\n  - name: f\n    features: { train: data/ }\n', 'data/ }', 5));
    assert.deepEqual(features.sort(), ['f.safetensors', 'nested/', 'x.npy', 'y.npy']);
  });

  it('knows every path the sidecar opens (PATH_FIELDS covers referencedPaths)', () => {
    for (const name of ['valid/block-style.aft.yaml', 'valid/mnist.aft.yaml']) {
      const exp = validateExperimentText(fs.readFileSync(path.join(fixtures, name), 'utf8')).experiment;
      assert.ok(exp, name);
      for (const ref of referencedPaths(exp)) {
        assert.ok(
          PATH_FIELDS.some(
            (f) => f.pattern.length === ref.path.length && f.pattern.every((x, i) => x === '*' || x === ref.path[i]),
          ),
          ref.path.join('.'),
        );
      }
    }
  });

  const fixAll = async (
    text: string,
  ): Promise<{ diagnostics: Diagnostic[]; actions: CodeAction[]; apply: (a: CodeAction) => string }> => {
    const d = doc(text);
    const diagnostics = await client.open(d.uri, d.text);
    const end = TextDocument.create(d.uri, 'aft-experiment', 1, text).positionAt(text.length);
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: d.uri },
      range: { start: { line: 0, character: 0 }, end },
      context: { diagnostics, only: ['quickfix'] },
    });
    const apply = (a: CodeAction): string =>
      TextDocument.applyEdits(TextDocument.create(d.uri, 'aft-experiment', 1, text), a.edit?.changes?.[d.uri] ?? []);
    return { diagnostics, actions, apply };
  };

  it('quick fix: replaces a misspelled key or method, keeping quotes', async () => {
    const { actions, apply } = await fixAll(
      'name: q\ndataset: { source: mnist }\npretrained: [{ name: n, noise: 4 }]\nmethods: [stl, "aftt"]\ntrain: { batchh: 16 }\n',
    );
    assert.deepEqual(actions.map((a) => a.title).sort(), [
      'Replace `aftt` with `aft`',
      'Replace `batchh` with `batch`',
    ]);
    const fixedMethod = apply(actions.find((a) => a.title.includes('aftt'))!);
    assert.match(fixedMethod, /methods: \[stl, "aft"\]/);
    const fixedKey = apply(actions.find((a) => a.title.includes('batchh'))!);
    assert.match(fixedKey, /train: \{ batch: 16 \}/);
    const again = await client.open(
      fileUri(path.join(dir, `fixed${n++}.aft.yaml`)),
      fixedMethod.replace('batchh', 'batch'),
    );
    assert.deepEqual(again, []);
  });

  it('quick fix: replaces an ONNX input name with the one the model graph has', async () => {
    const model = path.join(fixtures, 'models', 'tiny.onnx');
    const { actions, apply } = await fixAll(
      `name: o\ndataset: { source: mnist }\npretrained:\n  - { name: m, onnx: { model: ${model}, input: pixel_value } }\nmethods: [stl]\n`,
    );
    assert.deepEqual(
      actions.map((a) => a.title),
      ['Replace `pixel_value` with `pixel_values`'],
    );
    assert.match(apply(actions[0]), /input: pixel_values \}/);
  });

  it('quick fix: adds a missing required field, in block and flow style', async () => {
    const block = await fixAll('dataset:\n  train: 100\nmethods: [stl]\n');
    const titles = block.actions.map((a) => a.title).sort();
    assert.deepEqual(titles, ['Add missing field `name`', 'Add missing field `source`']);
    assert.equal(
      block.apply(block.actions.find((a) => a.title.includes('source'))!),
      'dataset:\n  train: 100\n  source: mnist\nmethods: [stl]\n',
    );
    assert.equal(
      block.apply(block.actions.find((a) => a.title.includes('name'))!),
      'dataset:\n  train: 100\nmethods: [stl]\nname: ""\n',
    );
    const flow = await fixAll('name: f\ndataset: { train: 100 }\n');
    assert.deepEqual(flow.actions.map((a) => flow.apply(a)).sort(), [
      'name: f\ndataset: { source: mnist, train: 100 }\n',
      'name: f\ndataset: { train: 100 }\nmethods: [stl]\n',
    ]);
  });

  it('code lenses above methods: run all, run one method', async () => {
    const d = doc(VALID);
    await client.open(d.uri, d.text);
    const lenses = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: d.uri } });
    const line = d.at('methods:').line;
    assert.ok(lenses.every((l) => l.range.start.line === line));
    assert.deepEqual(
      lenses.map((l) => [l.command?.title, l.command?.command, l.command?.arguments]),
      [
        ['▶ Run', 'aft.runExperiment', [d.uri]],
        ['Run stl only', 'aft.runMethod', [d.uri, 'stl']],
        ['Run aft only', 'aft.runMethod', [d.uri, 'aft']],
        ['Run aft-rbf only', 'aft.runMethod', [d.uri, 'aft-rbf']],
      ],
    );
  });

  it('document symbols: sections, fields, and list entries by name', async () => {
    const d = doc(VALID);
    await client.open(d.uri, d.text);
    const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', {
      textDocument: { uri: d.uri },
    });
    assert.deepEqual(
      symbols.map((s) => s.name),
      ['name', 'dataset', 'pretrained', 'methods', 'train', 'backend'],
    );
    const pretrained = symbols.find((s) => s.name === 'pretrained');
    assert.deepEqual(
      pretrained?.children?.map((s) => s.name),
      ['teacher', 'noise'],
    );
    assert.deepEqual(
      symbols.find((s) => s.name === 'methods')?.children?.map((s) => s.name),
      ['stl', 'aft', 'aft-rbf'],
    );
    assert.equal(symbols.find((s) => s.name === 'train')?.children?.find((s) => s.name === 'batch')?.detail, '32');
  });
});
