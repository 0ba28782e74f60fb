/**
 * TEST-ONLY fault injection at the write points of the run store and the caches
 * (test/faults/disk.test.ts). Inert unless the environment variable `AFT_TEST_FAULT` is set:
 * then it is read once, and every write through util/fsx.ts asks `faultAt(file)` whether this
 * write is the one to break. Nothing else reads it, and nothing in the product sets it.
 *
 * `AFT_TEST_FAULT` is JSON: `{match, nth, action, ballast?, mount?}`:
 * - `match`: a regular expression tested against the written file's path (with `/` separators);
 * - `nth`: the 1-based count, among this process's writes whose path matches, of the one to break;
 * - `action`:
 *   - `full`: fill the file system first (a `ballast` file, grown until the kernel says ENOSPC,
 *     then shrunk to leave half of this write's bytes free, rounded down to whole pages), so
 *     that the write meets a real full disk (a short write, then ENOSPC) and the disk stays full;
 *   - `free`: the same, and the ballast is deleted right after the write (space comes back);
 *   - `kill`: write half of the bytes (to the temporary file, or appended), then SIGKILL itself;
 *   - `ro`: remount `mount` read-only first (`mount -o remount,ro`; needs root), so the write
 *     meets a real EROFS.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export type FaultAction = 'full' | 'free' | 'kill' | 'ro';

interface FaultSpec {
  match: RegExp;
  nth: number;
  action: FaultAction;
  ballast?: string;
  mount?: string;
}

let spec: FaultSpec | null | undefined;
let seen = 0;

function load(): FaultSpec | null {
  const raw = process.env.AFT_TEST_FAULT;
  if (!raw) return null;
  const j = JSON.parse(raw) as { match: string; nth?: number; action: FaultAction; ballast?: string; mount?: string };
  return {
    match: new RegExp(j.match),
    nth: j.nth ?? 1,
    action: j.action,
    ...(j.ballast ? { ballast: j.ballast } : {}),
    ...(j.mount ? { mount: j.mount } : {}),
  };
}

/** What a write must do: nothing (undefined), or meet the fault. Call once per write. */
export function faultAt(file: string, bytes: number): Fault | undefined {
  if (spec === undefined) spec = load();
  if (!spec || !spec.match.test(file.split('\\').join('/'))) return undefined;
  if (++seen !== spec.nth) return undefined;
  return new Fault(spec, bytes);
}

const PAGE = 4096;

export class Fault {
  constructor(
    private readonly spec: FaultSpec,
    private readonly bytes: number,
  ) {}

  get action(): FaultAction {
    return this.spec.action;
  }

  /** Before the write: fill the disk or make it read-only. */
  before(): void {
    if (this.action === 'full' || this.action === 'free') this.fill();
    if (this.action === 'ro') execFileSync('mount', ['-o', 'remount,ro', this.spec.mount!]);
  }

  /** After the write (done or failed): give the space back for `free`. */
  after(): void {
    if (this.action === 'free') fs.rmSync(this.spec.ballast!, { force: true });
  }

  /** For `kill`: how many bytes to write before dying. */
  get killAfter(): number {
    return Math.floor(this.bytes / 2);
  }

  die(): never {
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to oneself is delivered before kill() returns; this is never reached.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }

  private fill(): void {
    const fd = fs.openSync(this.spec.ballast!, 'a');
    try {
      const block = Buffer.alloc(1 << 16);
      for (;;) {
        try {
          if (fs.writeSync(fd, block) < block.length) break;
        } catch {
          break;
        }
      }
      const keep = Math.floor(this.bytes / 2 / PAGE) * PAGE;
      const size = fs.fstatSync(fd).size;
      fs.ftruncateSync(fd, Math.max(0, size - keep));
    } finally {
      fs.closeSync(fd);
    }
  }
}
