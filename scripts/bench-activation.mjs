#!/usr/bin/env node
// Activation cost of the extension in the extension host: loading dist/extension/extension.js
// and calling activate(), in fresh Node processes, against a stand-in `vscode` module that
// does nothing (so only our own code is measured). Budget: 100 ms. Also checks that the bundle
// pulls in no engine (TensorFlow.js, onnxruntime). The end-to-end test reads the same
// "activated in" number from the log of the real VS Code (code-server).
// Usage: node scripts/bench-activation.mjs [--runs N] [--json]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '15' }, json: { type: 'boolean' }, child: { type: 'boolean' } },
});
const bundle = fileURLToPath(new URL('../dist/extension/extension.js', import.meta.url));
const BUDGET_MS = 100;

if (values.child) {
  const Module = (await import('node:module')).default;
  const noop = () => {};
  const disposable = { dispose: noop };
  class EventEmitter {
    event = () => disposable;
    fire = noop;
    dispose = noop;
  }
  const channel = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, show: noop, dispose: noop };
  const vscode = {
    EventEmitter,
    Disposable: class {
      static from() {
        return disposable;
      }
    },
    ThemeIcon: class {
      constructor(id) {
        this.id = id;
      }
    },
    ThemeColor: class {
      constructor(id) {
        this.id = id;
      }
    },
    TreeItem: class {
      constructor(label, state) {
        this.label = label;
        this.collapsibleState = state;
      }
    },
    MarkdownString: class {
      constructor(v) {
        this.value = v;
      }
    },
    Uri: {
      file: (p) => ({ fsPath: p, path: p, scheme: 'file' }),
      joinPath: (u, ...p) => ({ fsPath: [u.fsPath, ...p].join('/') }),
    },
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { Notification: 15 },
    ConfigurationTarget: { Global: 1, Workspace: 2 },
    window: {
      createOutputChannel: () => channel,
      createTreeView: () => ({ reveal: async () => {}, dispose: noop }),
      registerTreeDataProvider: () => disposable,
      createStatusBarItem: () => ({ show: noop, dispose: noop }),
      showInformationMessage: async () => undefined,
      showErrorMessage: async () => undefined,
      showWarningMessage: async () => undefined,
    },
    workspace: {
      isTrusted: false,
      workspaceFolders: [{ uri: { fsPath: process.cwd() }, name: 'ws', index: 0 }],
      getConfiguration: () => ({ get: (_k, d) => d }),
      createFileSystemWatcher: () => ({
        onDidCreate: () => disposable,
        onDidDelete: () => disposable,
        onDidChange: () => disposable,
        dispose: noop,
      }),
      onDidChangeConfiguration: () => disposable,
      onDidChangeWorkspaceFolders: () => disposable,
      onDidGrantWorkspaceTrust: () => disposable,
    },
    commands: { registerCommand: () => disposable, executeCommand: async () => undefined },
  };
  // vscode-languageclient's classes extend `vscode` classes (CompletionItem, CodeLens, Diagnostic,
  // ...) when the bundle loads, and esbuild's import helper copies the module's own properties: so
  // every class that @types/vscode declares and the stand-in lacks is an empty class here.
  const types = readFileSync(
    fileURLToPath(new URL('../node_modules/@types/vscode/index.d.ts', import.meta.url)),
    'utf8',
  );
  for (const [, name] of types.matchAll(/^\s*export class (\w+)/gm)) vscode[name] ??= class {};
  // A namespace function the stand-in does not list (registerX, onDidX) returns a disposable.
  for (const ns of ['window', 'workspace', 'commands', 'languages', 'env', 'extensions']) {
    vscode[ns] = new Proxy(vscode[ns] ?? {}, {
      get: (target, name) => (name in target ? target[name] : () => disposable),
    });
  }
  const load = Module._load;
  Module._load = function (request, ...rest) {
    if (request === 'vscode') return vscode;
    return load.call(this, request, ...rest);
  };
  const t0 = performance.now();
  const { createRequire } = Module;
  const ext = createRequire(import.meta.url)(bundle);
  const t1 = performance.now();
  const context = {
    subscriptions: [],
    globalStorageUri: { fsPath: '/tmp/aft-bench-storage' },
    asAbsolutePath: (p) => p,
    extension: { packageJSON: {} },
  };
  ext.activate(context);
  const t2 = performance.now();
  const engines = Object.keys(Module._cache).filter((k) => /@tensorflow|onnxruntime/.test(k));
  process.stdout.write(JSON.stringify({ load: t1 - t0, activate: t2 - t1, engines }) + '\n');
  process.exit(0);
}

const runs = Number(values.runs);
const samples = [];
for (let i = 0; i < runs; i++) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(1);
  }
  samples.push(JSON.parse(r.stdout.trim().split('\n').at(-1)));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs) => Math.max(...xs);
const load = samples.map((s) => s.load);
const activate = samples.map((s) => s.activate);
const total = samples.map((s) => s.load + s.activate);
const engines = [...new Set(samples.flatMap((s) => s.engines))];
const size = readFileSync(bundle).length;
const result = {
  runs,
  bundleBytes: size,
  loadMs: { median: median(load), max: max(load) },
  activateMs: { median: median(activate), max: max(activate) },
  totalMs: { median: median(total), max: max(total) },
  budgetMs: BUDGET_MS,
  engines,
};
console.log(`extension bundle: ${(size / 1024).toFixed(0)} KiB`);
console.log(
  `load   (require bundle): median ${result.loadMs.median.toFixed(1)} ms, max ${result.loadMs.max.toFixed(1)} ms`,
);
console.log(
  `activate():              median ${result.activateMs.median.toFixed(1)} ms, max ${result.activateMs.max.toFixed(1)} ms`,
);
console.log(
  `total:                   median ${result.totalMs.median.toFixed(1)} ms, max ${result.totalMs.max.toFixed(1)} ms (budget ${BUDGET_MS} ms, ${runs} fresh processes)`,
);
if (values.json) console.log(JSON.stringify(result));
if (engines.length) {
  console.error(`the extension bundle loads compute engines: ${engines.join(', ')}`);
  process.exit(1);
}
if (result.totalMs.median > BUDGET_MS) {
  console.error(`activation over budget: ${result.totalMs.median.toFixed(1)} ms > ${BUDGET_MS} ms`);
  process.exit(1);
}
