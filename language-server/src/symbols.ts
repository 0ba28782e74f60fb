/** The outline: top-level sections, their fields, and list entries named by their `name`. */
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { isAlias, isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import type { Analysis } from './analysis';
import { scalarText } from './schema';
import { keyText } from './yamlTree';

/** Keeps the outline (and its cost) bounded on huge files. */
const MAX_SYMBOLS = 2000;
const MAX_DEPTH = 6;

export function documentSymbols(doc: TextDocument, a: Analysis): DocumentSymbol[] {
  const budget = { left: MAX_SYMBOLS };
  return children(doc, a.parsed?.doc.contents, 0, budget);
}

function children(doc: TextDocument, node: unknown, depth: number, budget: { left: number }): DocumentSymbol[] {
  if (depth >= MAX_DEPTH) return [];
  const out: DocumentSymbol[] = [];
  const add = (name: string, keyNode: YamlNode, value: unknown, end: number | undefined, detail?: string): void => {
    if (budget.left-- <= 0 || !keyNode.range) return;
    const [s, e] = keyNode.range;
    const selectionRange = { start: doc.positionAt(s), end: doc.positionAt(e) };
    out.push({
      name: name || '""',
      kind: kindOf(value),
      ...(detail !== undefined ? { detail } : {}),
      range: { start: selectionRange.start, end: doc.positionAt(Math.max(end ?? e, e)) },
      selectionRange,
      children: children(doc, value, depth + 1, budget),
    });
  };
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = keyText(pair);
      if (k === undefined) continue;
      const v = pair.value;
      add(
        k,
        pair.key as YamlNode,
        v,
        (v as YamlNode | null)?.range?.[1],
        isScalar(v) && v.value !== null ? scalarText(v.value) : undefined,
      );
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (!isMap(item) && !isScalar(item)) return;
      const named = isMap(item) ? item.get('name') : undefined;
      const label = typeof named === 'string' ? named : isScalar(item) ? scalarText(item.value) : `[${i}]`;
      add(label, item, item, item.range?.[1]);
    });
  }
  return out;
}

function kindOf(value: unknown): SymbolKind {
  if (isMap(value)) return SymbolKind.Object;
  if (isSeq(value)) return SymbolKind.Array;
  if (isAlias(value)) return SymbolKind.Variable;
  if (isScalar(value))
    return typeof value.value === 'number'
      ? SymbolKind.Number
      : typeof value.value === 'boolean'
        ? SymbolKind.Boolean
        : SymbolKind.String;
  return SymbolKind.Field;
}
