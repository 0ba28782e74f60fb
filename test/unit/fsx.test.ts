/**
 * The writes every store and cache goes through (core/node/util/fsx.ts): all bytes or an error
 * naming the file, appends whole or cut back, the reserve for a last write on a full disk, and
 * dead writers' temporary files removed. Real full disks, kills and read-only mounts at every
 * write point are in test/faults/disk.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, mock } from 'node:test';
import {
  appendFileAll,
  removeStaleTemps,
  Reserve,
  tempName,
  writeFileAtomic,
  WriteError,
} from '../../core/node/util/fsx';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-fsx-'));
// The CommonJS module object (an ES namespace cannot be mocked): the one fsx.ts calls into.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const realFs = require('node:fs') as typeof fs;
const realWrite = realFs.writeSync;
type Write = (...a: unknown[]) => number;

/** fs.writeSync as a disk that takes at most `perCall` bytes a call and has `room` bytes in all. */
function disk(perCall: number, room = Infinity): { restore: () => void } {
  let left = room;
  const m = mock.method(realFs, 'writeSync', (...args: unknown[]) => {
    const [fd, buf, off = 0, len] = args as [number, Uint8Array, number?, number?];
    if (!(buf instanceof Uint8Array)) return (realWrite as Write)(...args);
    const want = Math.min(len ?? buf.length - off, perCall, left);
    if (want === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    left -= want;
    return (realWrite as Write)(fd, buf, off, want);
  });
  return { restore: () => m.mock.restore() };
}

describe('fsx writes', () => {
  it('writes every byte when the system takes fewer than asked', () => {
    const f = path.join(tmp(), 'a.bin');
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    const d = disk(777);
    try {
      writeFileAtomic(f, data);
    } finally {
      d.restore();
    }
    assert.deepEqual(fs.readFileSync(f), data);
  });

  it('a disk that fills mid-write: a WriteError naming the file and the bytes needed; the old file and no temporary left', () => {
    const dir = tmp();
    const f = path.join(dir, 'ckpt.safetensors');
    writeFileAtomic(f, 'old');
    const d = disk(1 << 20, 2048);
    try {
      assert.throws(
        () => writeFileAtomic(f, Buffer.alloc(3000, 1)),
        (e: unknown) =>
          e instanceof WriteError &&
          e.diskFull &&
          e.code === 'run_failed' &&
          new RegExp(
            `^cannot write ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: disk full: 3000 bytes needed, \\d+ free$`,
          ).test(e.message),
      );
    } finally {
      d.restore();
    }
    assert.equal(fs.readFileSync(f, 'utf8'), 'old');
    assert.deepEqual(fs.readdirSync(dir), ['ckpt.safetensors']);
  });

  it('an append that fails is cut back: the file keeps whole lines only', () => {
    const f = path.join(tmp(), 'metrics.jsonl');
    appendFileAll(f, '{"step":1}\n');
    const d = disk(5, 5);
    try {
      assert.throws(() => appendFileAll(f, '{"step":2}\n'), /disk full: 11 bytes needed/);
    } finally {
      d.restore();
    }
    assert.equal(fs.readFileSync(f, 'utf8'), '{"step":1}\n');
  });

  it('a reserve takes the last write without new space, cut to its content', () => {
    const dir = tmp();
    const target = path.join(dir, 'status.json');
    writeFileAtomic(target, '{"state":"running"}');
    const r = Reserve.create(target, 4096);
    const reserved = r.fileFor(target);
    assert.equal(fs.statSync(reserved).size, 4096);
    const d = disk(1 << 20, 200); // a disk with room for the status's bytes and no more
    try {
      r.commit(target, '{"state":"failed"}');
    } finally {
      d.restore();
    }
    assert.equal(fs.readFileSync(target, 'utf8'), '{"state":"failed"}');
    assert.ok(!fs.existsSync(reserved));
    // Gone: a later commit falls back to a plain atomic write.
    r.commit(target, '{"state":"cancelled"}');
    assert.equal(fs.readFileSync(target, 'utf8'), '{"state":"cancelled"}');
  });

  it("removes dead writers' temporary files (this host's by pid, anyone's after a day), never a live one's", () => {
    const dir = tmp();
    const mine = path.basename(tempName(path.join(dir, 'a.json')));
    const dead = 'b.json.tmp-4200000-abc'; // an older version's name; a pid above Linux's largest pid_max
    const otherHostYoung = 'c.json.tmp-0a1b2c-4200001-abc';
    const otherHostOld = 'd.json.tmp-0a1b2c-4200002-abc';
    const stagingDead = 'run-x.tmp-4200003-xyz';
    for (const n of [mine, dead, otherHostYoung, otherHostOld, 'final.json']) fs.writeFileSync(path.join(dir, n), 'x');
    fs.mkdirSync(path.join(dir, stagingDead));
    fs.writeFileSync(path.join(dir, stagingDead, 'status.json'), '{}');
    const old = new Date(Date.now() - 2 * 24 * 3600_000);
    fs.utimesSync(path.join(dir, otherHostOld), old, old);
    assert.deepEqual(removeStaleTemps(dir).sort(), [dead, otherHostOld, stagingDead].sort());
    assert.deepEqual(fs.readdirSync(dir).sort(), [mine, otherHostYoung, 'final.json'].sort());
  });
});
