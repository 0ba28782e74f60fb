/**
 * A pretrained student's folder checked by the language server as the user types: each case is
 * a real folder made from a committed fixture (test/helpers/studentFolders.ts), and the editor
 * must give exactly the problems `aft validate --json` gives, at the same line and column with
 * the same message (the editor leaves out only the memory estimate, which `aft validate` adds
 * at `train.*`). The folder's headers are read again only when one of its files changed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Diagnostic } from 'vscode-languageserver';
import type { StTensor } from '../../core/node/io/safetensors';
import { CachedFiles } from '../../language-server/src/fileCache';
import { runAft } from '../helpers/cli';
import { studentVariant, type FolderChange } from '../helpers/studentFolders';
import { fileUri, LspClient } from './harness';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-lsp-students-'));

/** An experiment whose student is the folder `student` beside it; `downstream` adds lines to its section. */
const experiment = (downstream: string[] = []): string =>
  [
    'name: student',
    'dataset: { source: mnist }',
    'downstream:',
    '  model: pretrained',
    '  folder: student',
    ...downstream.map((l) => `  ${l}`),
    'methods: [stl]',
    '',
  ].join('\n');

/** 1-based line of `folder: student`, where folder problems are said. */
const FOLDER_LINE = 5;

const resized = (t: Record<string, StTensor>, key: string, shape: number[]): void => {
  t[key] = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
};

interface Case {
  name: string;
  from: string;
  change?: FolderChange<Record<string, unknown>>;
  downstream?: string[];
  /** The one diagnostic expected (1-based line, message pattern), or none. */
  expect?: { line: number; message: RegExp };
}

const CASES: Case[] = [
  { name: 'a good timm folder', from: 'resnet18-tiny' },
  { name: 'a good transformers folder with its tokenizer', from: 'bert-tiny' },
  {
    name: 'an unknown architecture, the known ones listed',
    from: 'resnet18-tiny',
    change: { config: (c) => (c.architecture = 'resnet19') },
    expect: {
      line: FOLDER_LINE,
      message:
        /^downstream\.folder: \S+config\.json: architecture: unknown architecture `resnet19` \(did you mean `resnet18`\?\); the known ones are resnet18, resnet34, /,
    },
  },
  {
    name: 'a missing tensor, named with its shape',
    from: 'resnet18-tiny',
    change: { tensors: (t) => delete t['layer1.0.conv1.weight'] },
    expect: {
      line: FOLDER_LINE,
      message:
        /^downstream\.folder: \S+model\.safetensors: model\.safetensors does not match a resnet18 of width \d+ with 10 classes \(1 problem\): missing: layer1\.0\.conv1\.weight \[\d+, \d+, 3, 3\]$/,
    },
  },
  {
    name: 'a mis-shaped tensor, expected vs got',
    from: 'resnet18-tiny',
    change: { tensors: (t) => resized(t, 'layer1.0.bn1.weight', [9]) },
    expect: {
      line: FOLDER_LINE,
      message: /\(1 problem\): mis-shaped: layer1\.0\.bn1\.weight expected \[\d+\], got \[9\]$/,
    },
  },
  {
    name: 'a pickled checkpoint, refused with how to convert it',
    from: 'resnet18-tiny',
    change: {
      files: (dir) => {
        fs.rmSync(path.join(dir, 'model.safetensors'));
        fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), Buffer.from('\x80\x02}q\x00.', 'latin1'));
      },
    },
    expect: {
      line: FOLDER_LINE,
      message:
        /^downstream\.folder: \S+student: the weights are pickled \(pytorch_model\.bin\); aft reads only model\.safetensors, because loading a pickle runs code: .*save_file/,
    },
  },
  {
    name: 'a text student without tokenizer.json',
    from: 'bert-tiny',
    change: { files: (dir) => fs.rmSync(path.join(dir, 'tokenizer.json')) },
    expect: {
      line: FOLDER_LINE,
      message:
        /^downstream\.folder: \S+student: no tokenizer\.json: a bert student tokenises the texts with its own tokenizer/,
    },
  },
  {
    name: 'an input size the weights cannot read, at the field that sets it',
    from: 'vit-tiny',
    downstream: ['input_size: [64, 64]'],
    expect: {
      line: FOLDER_LINE + 1,
      message:
        /^downstream\.input_size: the vit_tiny_patch16_224 .* reads 32x32 images only .*this dataset's images are 64x64/,
    },
  },
];

/** `aft validate --json`'s problems as the editor shows them (0-based start, `field: message`), the memory estimate left out. */
function validateJson(dir: string): { line: number; character: number; message: string }[] {
  const r = runAft(['validate', '--json', 'exp.aft.yaml'], dir);
  assert.ok(r.code === 0 || r.code === 2, `aft validate exited ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    problems: { field: string; path: (string | number)[]; message: string; line: number; column: number }[];
  };
  return out.problems
    .filter((p) => p.path[0] !== 'train')
    .map((p) => ({ line: p.line - 1, character: p.column - 1, message: `${p.field}: ${p.message}` }));
}

const messageOf = (d: Diagnostic): string => (typeof d.message === 'string' ? d.message : d.message.value);

const shown = (d: Diagnostic[]): { line: number; character: number; message: string }[] =>
  d.map((x) => ({ line: x.range.start.line, character: x.range.start.character, message: messageOf(x) }));

describe('student folders in the language server', () => {
  let client: LspClient;
  before(async () => {
    client = await LspClient.start();
  });
  after(() => client.dispose());

  CASES.forEach((c, i) => {
    it(`${c.name}: as aft validate --json says`, async () => {
      const dir = path.join(tmp, `case${i}`);
      studentVariant(c.from, path.join(dir, 'student'), c.change);
      const file = path.join(dir, 'exp.aft.yaml');
      fs.writeFileSync(file, experiment(c.downstream));
      const got = shown(await client.open(fileUri(file), fs.readFileSync(file, 'utf8')));
      if (!c.expect) assert.deepEqual(got, []);
      else {
        assert.equal(got.length, 1, `expected one diagnostic, got ${JSON.stringify(got, null, 1)}`);
        assert.equal(got[0].line, c.expect.line - 1);
        assert.match(got[0].message, c.expect.message);
      }
      assert.deepEqual(got, validateJson(dir));
    });
  });
});

describe('student folder reads while typing', () => {
  it('reads the folder once while it is unchanged, and again when its config changes', async () => {
    const files = new CachedFiles();
    const client = await LspClient.start({ debounceMs: 0, files });
    try {
      const dir = path.join(tmp, 'typing');
      const folder = studentVariant('resnet18-tiny', path.join(dir, 'student'));
      const uri = fileUri(path.join(dir, 'exp.aft.yaml'));
      const text = experiment();
      assert.deepEqual(await client.open(uri, text), []);
      const reads = files.reads;
      for (let k = 1; k <= 5; k++) assert.deepEqual(await client.change(uri, `${text}# keystroke ${k}\n`), []);
      assert.equal(files.reads, reads, 'typing does not read the folder again');

      const config = path.join(folder, 'config.json');
      fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('"resnet18"', '"resnet1800"'));
      const next = client.diagnostics(uri, 6);
      await client.rpc.sendNotification('workspace/didChangeWatchedFiles', {
        changes: [{ uri: fileUri(config), type: 2 }],
      });
      await next;
      const d = client.published.at(-1)?.diagnostics ?? [];
      assert.equal(d.length, 1);
      assert.match(messageOf(d[0]), /unknown architecture `resnet1800`/);
      assert.equal(files.reads, reads + 1, 'only the changed folder is read again');
    } finally {
      client.dispose();
    }
  });
});
