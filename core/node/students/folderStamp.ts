/**
 * What a student folder's check depends on, as one string: the folder's listing (a pickle or a
 * tokenizer.json added or removed) and the size and modification time of each file the check
 * reads (config.json, the safetensors files, the shard index). Equal stamps give the same
 * answer, so the sidecar keeps the folder it read and the language server its check while the
 * stamp stays: typing in an experiment file never re-reads a header that did not change.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE } from './hubFolder';
import { WEIGHTS_INDEX } from './hubWeights';

const read = (name: string): boolean => name === CONFIG_FILE || name === WEIGHTS_INDEX || name.endsWith('.safetensors');

export function folderStamp(folder: string): string {
  let names: string[];
  try {
    names = fs.readdirSync(folder).sort();
  } catch (e) {
    return `unreadable:${(e as NodeJS.ErrnoException).code ?? ''}`;
  }
  const stamps = names.filter(read).map((name) => {
    const st = fs.statSync(path.join(folder, name), { throwIfNoEntry: false });
    return st ? `${name}:${st.size}:${st.mtimeMs}` : `${name}:gone`;
  });
  return [names.join('/'), ...stamps].join('\0');
}
