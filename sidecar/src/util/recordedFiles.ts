/**
 * Built files checked against what their build recorded (size, sha256) before they are used: the
 * built-in teacher and the built-in students, which are rebuilt when damaged, never loaded.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * The bytes of `file` when they are what `recorded` says, else why not. `shown` names the file in
 * the reason, `record` the record (e.g. `its metadata`).
 */
export function readRecordedFile(
  file: string,
  recorded: { bytes?: number; sha256?: string },
  shown: string,
  record: string,
): { bytes: Buffer } | { damaged: string } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    return { damaged: `${shown} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  if (recorded.bytes !== undefined && bytes.length !== recorded.bytes)
    return { damaged: `${shown} has ${bytes.length} bytes, ${record} says ${recorded.bytes}` };
  if (recorded.sha256 !== undefined && sha256Hex(bytes) !== recorded.sha256)
    return { damaged: `${shown} does not match the sha256 in ${record}` };
  return { bytes };
}
