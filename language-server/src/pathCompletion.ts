/** Completion of the file paths an experiment references, relative to the experiment file. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompletionItemKind, type CompletionItem, type Range } from 'vscode-languageserver';
import type { YamlPath } from './schema';

/**
 * The fields that hold paths, and the files each accepts (none: a folder). The schema types them as plain
 * strings; test/lsp/features.test.ts checks this list against `referencedPaths`, the sidecar's
 * own list of the paths it opens.
 */
export const PATH_FIELDS: {
  pattern: readonly string[] /* '*' matches any key or index */;
  extensions: readonly string[];
}[] = [
  { pattern: ['dataset', '*', 'inputs'], extensions: ['.npy'] },
  { pattern: ['dataset', '*', 'labels'], extensions: ['.npy'] },
  { pattern: ['dataset', 'folder'], extensions: [] },
  { pattern: ['dataset', 'train'], extensions: ['.csv', '.jsonl'] },
  { pattern: ['dataset', 'test'], extensions: ['.csv', '.jsonl'] },
  { pattern: ['dataset', 'tokenizer'], extensions: ['.json'] },
  { pattern: ['pretrained', '*', 'features', 'train'], extensions: ['.npy', '.safetensors'] },
  { pattern: ['pretrained', '*', 'features', 'test'], extensions: ['.npy', '.safetensors'] },
  { pattern: ['pretrained', '*', 'onnx', 'folder'], extensions: [] },
  { pattern: ['pretrained', '*', 'onnx', 'model'], extensions: ['.onnx'] },
  { pattern: ['pretrained', '*', 'onnx', 'tokenizer'], extensions: ['.json'] },
  { pattern: ['downstream', 'init'], extensions: ['.safetensors', '.json'] },
];

export function pathFieldExtensions(p: YamlPath): readonly string[] | undefined {
  return PATH_FIELDS.find((f) => f.pattern.length === p.length && f.pattern.every((x, i) => x === '*' || x === p[i]))
    ?.extensions;
}

const MAX_ENTRIES = 500;

export function completePath(
  baseDir: string,
  typed: string,
  extensions: readonly string[],
  range: Range,
): CompletionItem[] {
  const slash = typed.lastIndexOf('/');
  const dirPart = typed.slice(0, slash + 1);
  const namePart = typed.slice(slash + 1);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.resolve(baseDir, dirPart || '.'), { withFileTypes: true }).slice(0, MAX_ENTRIES);
  } catch {
    return [];
  }
  const items: CompletionItem[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') && !namePart.startsWith('.')) continue;
    if (e.isDirectory()) {
      items.push({
        label: `${e.name}/`,
        kind: CompletionItemKind.Folder,
        textEdit: { range, newText: `${dirPart}${e.name}/` },
        filterText: `${dirPart}${e.name}/`,
        // Going into a folder should list it straight away.
        command: { title: 'list folder', command: 'editor.action.triggerSuggest' },
      });
    } else if (extensions.some((x) => e.name.endsWith(x))) {
      items.push({
        label: e.name,
        kind: CompletionItemKind.File,
        textEdit: { range, newText: `${dirPart}${e.name}` },
        filterText: `${dirPart}${e.name}`,
      });
    }
  }
  return items;
}
