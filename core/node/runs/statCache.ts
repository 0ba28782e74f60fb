/**
 * Values read from files, kept while the file is unchanged: the same inode, size, mtime and ctime
 * (the run store replaces its records by rename, which gives a new inode; an in-place rewrite
 * changes mtime and ctime). Listing a thousand runs then costs a stat per record instead of a
 * read and a parse (issue 15: `listRuns` p95 < 100 ms with 1,000 runs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const stamp = (st: fs.Stats): string => `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export class StatCache<T> {
  private readonly entries = new Map<string, { stamp: string; value: T }>();

  /** The value of `file` (whose stat is `st`), read with `read` only when the file changed; failures are not kept. */
  get(file: string, st: fs.Stats, read: () => T): T {
    const s = stamp(st);
    const known = this.entries.get(file);
    if (known && known.stamp === s) return known.value;
    const value = read();
    this.entries.set(file, { stamp: s, value });
    return value;
  }

  /** The kept value of `file` (whose stat is `st`) if it is unchanged; undefined when it would have to be read. */
  peek(file: string, st: fs.Stats): T | undefined {
    const known = this.entries.get(file);
    return known && known.stamp === stamp(st) ? known.value : undefined;
  }

  /** Like `get`, after a stat of `file`; undefined when there is no such file. */
  getIfExists(file: string, read: (st: fs.Stats) => T): T | undefined {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return this.get(file, st, () => read(st));
  }

  /** Forgets the files under `root` whose folder is not in `keep` (runs deleted since). */
  prune(root: string, keep: ReadonlySet<string>): void {
    const prefix = root + path.sep;
    for (const file of this.entries.keys())
      if (file.startsWith(prefix) && !keep.has(path.dirname(file))) this.entries.delete(file);
  }

  get size(): number {
    return this.entries.size;
  }
}
