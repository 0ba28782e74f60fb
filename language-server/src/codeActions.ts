/** Quick fixes: replace a misspelled key or value with the suggestion, add a missing field. */
import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { isMap, type Node as YamlNode } from 'yaml';
import type { Analysis } from './analysis';
import type { FixData } from './diagnostics';
import { SOURCE } from './diagnostics';
import { placeholder } from './schema';
import { nodeAtPath, plainValue } from './yamlTree';

export function codeActions(doc: TextDocument, a: Analysis, diagnostics: Diagnostic[]): CodeAction[] {
  const out: CodeAction[] = [];
  for (const d of diagnostics) {
    if (d.source !== SOURCE || !d.data) continue;
    const data = d.data as FixData;
    if (data.suggestion !== undefined) {
      const old = doc.getText(d.range);
      // Keep the user's quoting: "aftt" becomes "aft", not aft.
      const q = /^["']/.exec(old)?.[0] ?? '';
      const edit: TextEdit = { range: d.range, newText: `${q}${data.suggestion}${q}` };
      out.push({
        title: `Replace \`${old.replace(/^["']|["']$/g, '')}\` with \`${data.suggestion}\``,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: true,
        edit: { changes: { [doc.uri]: [edit] } },
      });
    } else if (data.kind === 'missing_field') {
      const edit = addField(doc, a, data.path);
      if (edit)
        out.push({
          title: `Add missing field \`${String(data.path[data.path.length - 1])}\``,
          kind: CodeActionKind.QuickFix,
          diagnostics: [d],
          isPreferred: true,
          edit: { changes: { [doc.uri]: [edit] } },
        });
    }
  }
  return out;
}

/** An edit that adds `key: <placeholder>` to the mapping at the path's parent, in its style. */
function addField(doc: TextDocument, a: Analysis, fieldPath: (string | number)[]): TextEdit | undefined {
  if (!a.parsed) return undefined;
  const key = fieldPath[fieldPath.length - 1];
  const value = placeholder(fieldPath, plainValue(a.parsed.doc));
  const parent = nodeAtPath(a.parsed.doc, fieldPath.slice(0, -1));
  if (!isMap(parent) || !parent.range) {
    // An empty document: the field starts it.
    return fieldPath.length === 1 && a.parsed.doc.contents === null
      ? {
          range: { start: doc.positionAt(a.text.length), end: doc.positionAt(a.text.length) },
          newText: `${key}: ${value}\n`,
        }
      : undefined;
  }
  if (parent.flow) {
    const at = doc.positionAt(parent.range[0] + 1);
    return {
      range: { start: at, end: at },
      newText: parent.items.length ? ` ${key}: ${value},` : ` ${key}: ${value} `,
    };
  }
  // Block mapping: a new line after the last entry, indented like the first key.
  const firstKey = parent.items[0]?.key as YamlNode | undefined;
  const last = parent.items[parent.items.length - 1];
  const lastEnd = (last?.value as YamlNode | null)?.range?.[1] ?? (last?.key as YamlNode | undefined)?.range?.[1];
  if (!firstKey?.range || lastEnd === undefined) return undefined;
  const indent = doc.positionAt(firstKey.range[0]).character;
  const lineEnd = endOfLine(a.text, Math.max(lastEnd - 1, firstKey.range[0]));
  const at = doc.positionAt(lineEnd);
  return { range: { start: at, end: at }, newText: `\n${' '.repeat(indent)}${key}: ${value}` };
}

function endOfLine(text: string, offset: number): number {
  const i = text.indexOf('\n', offset);
  return i < 0 ? text.length : i;
}
