/**
 * Completion of keys, enum values and file paths. The word at the cursor is replaced by a
 * marker and the text parsed again: where the marker lands in the tree (a key, a value, a
 * sequence item) says what to offer, also in half-written, invalid YAML.
 */
import {
  CompletionItemKind,
  InsertTextFormat,
  MarkupKind,
  type CompletionItem,
  type Range,
} from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { isMap, isScalar, isSeq, parseDocument, type Pair, type Scalar } from 'yaml';
import type { FileProbe } from '../../core/node/experiment/arrays';
import { onnxModelFile } from '../../core/node/experiment/onnxNames';
import type { Analysis } from './analysis';
import { completePath, pathFieldExtensions } from './pathCompletion';
import { describeField, keysAt, valuesAt, type YamlPath } from './schema';
import { keyText, plainValue } from './yamlTree';

const MARKER = 'aftCompletionMarker';
const WORD_BEFORE = /[^\s:,[\]{}"'#]*$/;
const WORD_AFTER = /^[^\s:,[\]{}"'#]*/;

interface Spot {
  role: 'key' | 'value';
  /** For a key: the mapping's path. For a value: the field's path. */
  path: (string | number)[];
  pair?: Pair;
  /** Keys the mapping already has (not offered again). */
  existing?: Set<string>;
}

export function complete(doc: TextDocument, a: Analysis, offset: number, files: FileProbe): CompletionItem[] {
  if (a.refusal) return [];
  const text = a.text;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  if (/(^|\s)#/.test(before)) return [];
  const prefix = WORD_BEFORE.exec(before)?.[0] ?? '';
  const start = offset - prefix.length;
  const end = offset + (WORD_AFTER.exec(text.slice(offset))?.[0].length ?? 0);
  const probe = parseDocument(text.slice(0, start) + MARKER + text.slice(end), { uniqueKeys: false });
  const spot = find(probe.contents, []);
  if (!spot) return [];
  const data = plainValue(probe);
  const range: Range = { start: doc.positionAt(start), end: doc.positionAt(end) };

  if (spot.role === 'key') return keyItems(spot.path, data, range, spot.existing ?? new Set());
  const keyEnd = (spot.pair?.key as Scalar | undefined)?.range?.[1];
  const onNewLine = keyEnd !== undefined && keyEnd < start && text.slice(keyEnd, start).includes('\n');
  const exts = pathFieldExtensions(spot.path);
  if (exts) return a.baseDir ? completePath(a.baseDir, prefix, exts, range) : [];
  const names = onnxNames(spot.path, data, a.baseDir, files);
  if (names)
    return names.map((name) => ({
      label: name,
      kind: CompletionItemKind.Value,
      detail: `model ${String(spot.path[3])}`,
      textEdit: { range, newText: name },
    }));
  const values = valuesAt(spot.path, data);
  // `train:` then a new line: the user is writing the first key of a mapping, not a value.
  if ((onNewLine || !values.length) && keysAt(spot.path, data).size) return keyItems(spot.path, data, range, new Set());
  const field = describeField(spot.path, data);
  return values.map((v, i) => ({
    label: v.value,
    kind: CompletionItemKind.EnumMember,
    sortText: String(i).padStart(3, '0'),
    textEdit: { range, newText: v.value },
    ...(v.description || field
      ? { documentation: { kind: MarkupKind.Markdown, value: [v.description, field].filter(Boolean).join('\n\n') } }
      : {}),
  }));
}

/** For an onnx source's `input` or `output`: the names in its model's graph. */
function onnxNames(at: YamlPath, data: unknown, baseDir: string | undefined, files: FileProbe): string[] | undefined {
  const [section, i, kind, key] = at;
  if (at.length !== 4 || section !== 'pretrained' || kind !== 'onnx' || (key !== 'input' && key !== 'output'))
    return undefined;
  const spec =
    (data as { pretrained?: { onnx?: Record<string, unknown> }[] } | undefined)?.pretrained?.[i as number]?.onnx ?? {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const found = baseDir ? onnxModelFile({ model: str(spec.model), folder: str(spec.folder) }, baseDir, files) : null;
  if (!found?.model) return [];
  try {
    const sig = files.onnx(found.model);
    return key === 'input' ? sig.inputs : sig.outputs;
  } catch {
    return [];
  }
}

function keyItems(path: YamlPath, data: unknown, range: Range, existing: Set<string>): CompletionItem[] {
  return [...keysAt(path, data).keys()]
    .filter((k) => !existing.has(k))
    .map((k) => {
      const doc = describeField([...path, k], data);
      return {
        label: k,
        kind: CompletionItemKind.Property,
        insertTextFormat: InsertTextFormat.PlainText,
        textEdit: { range, newText: `${k}: ` },
        ...(doc ? { documentation: { kind: MarkupKind.Markdown, value: doc } } : {}),
      };
    });
}

function find(node: unknown, path: (string | number)[]): Spot | undefined {
  const marked = (n: unknown): n is Scalar => isScalar(n) && typeof n.value === 'string' && n.value.includes(MARKER);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (marked(pair.key)) {
        const existing = new Set(
          node.items
            .filter((p) => p !== pair)
            .map(keyText)
            .filter((k): k is string => k !== undefined),
        );
        return { role: 'key', path, pair, existing };
      }
      const k = keyText(pair);
      if (k === undefined) continue;
      if (marked(pair.value)) return { role: 'value', path: [...path, k], pair };
      const inner = find(pair.value, [...path, k]);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      if (marked(item)) return { role: 'value', path: [...path, i] };
      const inner = find(item, [...path, i]);
      if (inner) return inner;
    }
  }
  return undefined;
}
