/**
 * The file system as the checks see it, with array headers and ONNX input/output names cached
 * by modification time and size, and each pretrained student folder's check (config.json and
 * the safetensors header) by its `folderStamp`: a diagnostics pass on every keystroke stats each
 * referenced file but reads a header only when the file changed.
 */
import * as fs from 'node:fs';
import {
  pathKind,
  readArrayHeaders,
  type ArrayFile,
  type FileProbe,
  type PathKind,
} from '../../core/node/experiment/arrays';
import { readOnnxSignature, type OnnxSignature } from '../../core/node/io/onnxGraph';
import type { StudentSpec } from '../../core/node/students/family';
import { folderStamp } from '../../core/node/students/folderStamp';
import { checkHubFolder, type HubHeader } from '../../core/node/students/hubFolder';
import { STUDENT_SPECS } from '../../core/node/students/registry';

/** The files as the editor's checks see them: the probes of the file checks and the student folder check. */
export interface EditorFiles extends FileProbe {
  /** A student folder checked from its headers (`checkHubFolder`); throws its `AftError` when it is bad. */
  studentFolder(folder: string): HubHeader<StudentSpec>;
}

interface Entry {
  stamp: string;
  value?: unknown;
  error?: unknown;
}

/** Bounds memory when a long session touches many files; the oldest entries go first. */
const MAX_ENTRIES = 512;

export class CachedFiles implements EditorFiles {
  private readonly entries = new Map<string, Entry>();
  /** Header reads done (not served from the cache); the tests and the benchmark look at it. */
  reads = 0;

  /** Files and folders (an image dataset or an ONNX model is a folder). */
  exists(file: string): boolean {
    return pathKind(file) !== undefined;
  }

  kind(file: string): PathKind | undefined {
    return pathKind(file);
  }

  arrays(file: string): ArrayFile {
    return this.cached('arrays', file, readArrayHeaders);
  }

  onnx(file: string): OnnxSignature {
    return this.cached('onnx', file, readOnnxSignature);
  }

  studentFolder(folder: string): HubHeader<StudentSpec> {
    return this.cached('student', folder, (f) => checkHubFolder(f, STUDENT_SPECS), folderStamp);
  }

  /** A reader's answer (or error) for a path, reused while its stamp (a file's modification time and size) stays. */
  private cached<T>(kind: string, file: string, read: (file: string) => T, stampOf = fileStamp): T {
    const stamp = stampOf(file);
    const key = `${kind}:${file}`;
    let entry = this.entries.get(key);
    if (entry?.stamp !== stamp) {
      this.reads++;
      try {
        entry = { stamp, value: read(file) };
      } catch (error) {
        entry = { stamp, error };
      }
      this.entries.delete(key);
      this.entries.set(key, entry);
      if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    }
    if ('value' in entry) return entry.value as T;
    throw entry.error;
  }
}

function fileStamp(file: string): string {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? `${st.mtimeMs}:${st.size}` : 'missing';
}
