/**
 * Code lenses on the `methods:` line: run the whole experiment, or one method. They call the
 * extension's commands; the client turns the URI string into a `vscode.Uri`.
 */
import type { CodeLens } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import type { Analysis } from './analysis';
import { keyText } from './yamlTree';

export const RUN_EXPERIMENT = 'aft.runExperiment';
export const RUN_METHOD = 'aft.runMethod';

export function codeLenses(doc: TextDocument, a: Analysis): CodeLens[] {
  const root = a.parsed?.doc.contents;
  if (!isMap(root)) return [];
  const pair = root.items.find((p) => keyText(p) === 'methods');
  const key = pair?.key as YamlNode | undefined;
  if (!pair || !key?.range) return [];
  const line = doc.positionAt(key.range[0]).line;
  const range = { start: { line, character: 0 }, end: { line, character: 0 } };
  const lenses: CodeLens[] = [{ range, command: { title: '▶ Run', command: RUN_EXPERIMENT, arguments: [doc.uri] } }];
  const names = new Set<string>();
  for (const item of isSeq(pair.value) ? pair.value.items : []) {
    const name = isScalar(item) ? item.value : isMap(item) ? item.get('name') : undefined;
    if (typeof name === 'string' && name && !names.has(name)) names.add(name);
  }
  if (names.size > 1)
    for (const name of names)
      lenses.push({ range, command: { title: `Run ${name} only`, command: RUN_METHOD, arguments: [doc.uri, name] } });
  return lenses;
}
