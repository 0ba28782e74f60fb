/**
 * Student folders for tests: a copy of one of the committed fixtures (test/fixtures/students,
 * made by make_*.py) with its config.json, tensors or files changed, written as the hubs lay
 * them out. The sidecar's student tests and the language server's student diagnostics use it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, readSafetensors, type StTensor } from '../../core/node/io/safetensors';

export const STUDENT_FIXTURES = path.join(__dirname, '..', 'fixtures', 'students');

export interface FolderChange<C> {
  /** Edits config.json (parsed) before it is written. */
  config?: (c: C) => void;
  /** Edits the state dict before model.safetensors is written (the fixture's file is copied otherwise). */
  tensors?: (t: Record<string, StTensor>) => void;
  /** Changes the finished folder (adds, removes or replaces files). */
  files?: (dir: string) => void;
}

/**
 * A copy of the fixture folder `from` at `dir` (created), every file of it copied (its
 * tokenizer.json too), with `change` applied; returns `dir`.
 */
export function studentVariant<C = Record<string, unknown>>(
  from: string,
  dir: string,
  change: FolderChange<C> = {},
): string {
  const src = path.join(STUDENT_FIXTURES, from);
  fs.mkdirSync(dir, { recursive: true });
  for (const name of fs.readdirSync(src)) fs.copyFileSync(path.join(src, name), path.join(dir, name));
  if (change.config) {
    const config = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as C;
    change.config(config);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  }
  if (change.tensors) {
    const t = readSafetensors(path.join(src, 'model.safetensors')).tensors;
    change.tensors(t);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(t));
  }
  change.files?.(dir);
  return dir;
}
