/** Hover documentation for every key and enum value, from the schema's descriptions. */
import { MarkupKind, type Hover } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Analysis } from './analysis';
import { describeField, fieldLabel, valuesAt, type YamlPath } from './schema';
import { nodeAt, plainValue } from './yamlTree';

export function hover(doc: TextDocument, a: Analysis, offset: number): Hover | null {
  if (!a.parsed) return null;
  const hit = nodeAt(a.parsed.doc, offset);
  if (!hit?.node.range) return null;
  const data = plainValue(a.parsed.doc);
  let text: string | undefined;
  if (hit.kind === 'value' && typeof hit.node.value === 'string') {
    const allowed = valuesAt(hit.path, data);
    const v = allowed.find((e) => e.value === hit.node.value);
    if (v) {
      const field = nearestDescription(hit.path, data);
      text = [
        `**\`${v.value}\`** · a value of \`${fieldLabel(hit.path)}\``,
        v.description,
        field,
        `Allowed: ${allowed.map((e) => `\`${e.value}\``).join(', ')}`,
      ]
        .filter(Boolean)
        .join('\n\n');
    }
  }
  text ??= nearestDescription(hit.path, data);
  if (!text) return null;
  const [s, e] = hit.node.range;
  return {
    contents: { kind: MarkupKind.Markdown, value: text },
    range: { start: doc.positionAt(s), end: doc.positionAt(e) },
  };
}

/** The field's documentation; for a free-form key (a method name under `beta`), its parent's. */
function nearestDescription(path: YamlPath, data: unknown): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const d = describeField(path.slice(0, n), data);
    if (d) return d;
  }
  return undefined;
}
