/** Finding things in a parsed YAML tree by offset or by path, without resolving aliases. */
import { isMap, isScalar, isSeq, type Document, type Node as YamlNode, type Pair, type Scalar } from 'yaml';
import type { YamlPath } from './schema';

export interface Hit {
  /** The key under the cursor, or a scalar value (a map value or a sequence item). */
  kind: 'key' | 'value';
  path: (string | number)[];
  node: Scalar;
}

const within = (node: YamlNode | null | undefined, offset: number): boolean =>
  Boolean(node?.range && offset >= node.range[0] && offset <= node.range[1]);

export function keyText(pair: Pair): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

/** The scalar at an offset, with its path; for a key, the path ends with that key. */
export function nodeAt(doc: Document, offset: number): Hit | undefined {
  let node: unknown = doc.contents;
  const path: (string | number)[] = [];
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => within(p.key as YamlNode, offset) || within(p.value as YamlNode, offset));
      const key = pair && keyText(pair);
      if (!pair || key === undefined) return undefined;
      path.push(key);
      if (within(pair.key as YamlNode, offset)) return { kind: 'key', path, node: pair.key as Scalar };
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((it) => within(it as YamlNode, offset));
      if (i < 0) return undefined;
      path.push(i);
      node = node.items[i];
    } else if (isScalar(node)) {
      return { kind: 'value', path, node };
    } else return undefined;
  }
}

/** The node at a path (maps by key, sequences by index). */
export function nodeAtPath(doc: Document, path: YamlPath): unknown {
  let node: unknown = doc.contents;
  for (const p of path) {
    if (isMap(node)) node = node.items.find((pair) => keyText(pair) === p)?.value;
    else if (isSeq(node) && typeof p === 'number') node = node.items[p];
    else return undefined;
  }
  return node;
}

/** The document as plain data for choosing schema branches; aliases are not expanded. */
export function plainValue(doc: Document): unknown {
  try {
    return doc.toJS({ maxAliasCount: 50 });
  } catch {
    return undefined;
  }
}
