/**
 * One open document as the features see it: its text, the folder its relative paths resolve
 * against, and its YAML tree, parsed once per version and shared by diagnostics, hover,
 * completion, code lenses and symbols. Documents the guards refuse are never parsed.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { parseExperimentYaml, type ParsedYaml } from '../../core/node/experiment/validate';
import { refuse, type Refusal } from '../../core/node/experiment/guards';

export interface Analysis {
  uri: string;
  version: number;
  text: string;
  /** Folder of the file; undefined for unsaved (untitled) documents, whose paths are not checked. */
  baseDir?: string;
  refusal?: Refusal;
  parsed?: ParsedYaml;
}

export function baseDirOf(uri: string): string | undefined {
  return uri.startsWith('file:') ? path.dirname(fileURLToPath(uri)) : undefined;
}

export function analyze(doc: TextDocument): Analysis {
  const text = doc.getText();
  const base = { uri: doc.uri, version: doc.version, text, baseDir: baseDirOf(doc.uri) };
  const refusal = refuse(text);
  if (refusal) return { ...base, refusal };
  return { ...base, parsed: parseExperimentYaml(text) };
}

/** The latest analysis of each open document; only open documents are kept. */
export class Analyses {
  private readonly byUri = new Map<string, Analysis>();

  get(doc: TextDocument): Analysis {
    const cached = this.byUri.get(doc.uri);
    if (cached?.version === doc.version) return cached;
    const a = analyze(doc);
    this.byUri.set(doc.uri, a);
    return a;
  }

  delete(uri: string): void {
    this.byUri.delete(uri);
  }
}
