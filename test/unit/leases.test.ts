/**
 * Claims with leases (core/node/util/leases.ts): one holder per name, a holder that is gone (its
 * pid on this host, or a lease not renewed in time elsewhere) taken over by the next
 * generation, the old holder then knowing it lost; a claim marked done kept for good; and
 * separate processes racing for one name, of which exactly one wins.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { Leases, thisProcess, type LeaseHolder, type LeaseRecord } from '../../core/node/util/leases';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'aft-leases-'));

/** A pid that was a process and is not any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** A claim file as another holder would have left it. */
function leftBy(dir: string, name: string, holder: LeaseHolder, renewedMsAgo: number): void {
  const at = new Date(Date.now() - renewedMsAgo).toISOString();
  const record: LeaseRecord = {
    format: 'aft-lease',
    version: 1,
    name,
    generation: 0,
    ...holder,
    taken: at,
    renewed: at,
    leaseSeconds: 300,
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.0`), JSON.stringify(record));
}

interface TakeoverCase {
  name: string;
  holder: () => LeaseHolder;
  renewedMsAgo: number;
  /** Whether the claim may be taken, and what the taker is told. */
  taken: RegExp | false;
}

const CASES: TakeoverCase[] = [
  {
    name: 'a live holder on this host keeps it',
    holder: () => thisProcess('other'),
    renewedMsAgo: 0,
    taken: false,
  },
  {
    name: 'a holder on this host whose process ended is taken over at once',
    holder: () => ({ worker: 'gone', pid: deadPid(), host: os.hostname() }),
    renewedMsAgo: 0,
    taken: /its holder gone \(pid \d+\) ended/,
  },
  {
    name: 'a holder elsewhere renewed recently keeps it',
    holder: () => ({ worker: 'far', pid: 1, host: 'another-host' }),
    renewedMsAgo: 60_000,
    taken: false,
  },
  {
    name: 'a holder elsewhere not renewed for longer than its lease is taken over',
    holder: () => ({ worker: 'far', pid: 1, host: 'another-host' }),
    renewedMsAgo: 301_000,
    taken: /its lease was last renewed 301 s ago by far on another-host/,
  },
];

describe('leases', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const dir = tmp();
      leftBy(dir, 'job-3', c.holder(), c.renewedMsAgo);
      const me = new Leases(dir, thisProcess('me'));
      const r = me.tryClaim('job-3');
      if (c.taken === false) {
        assert.equal(r.ok, false);
        assert.equal(me.holds('job-3'), false);
        return;
      }
      assert.ok(r.ok);
      assert.match(r.tookOver ?? '', c.taken);
      assert.deepEqual(fs.readdirSync(dir), ['job-3.1']);
      assert.ok(me.holds('job-3'));
    });
  }

  it('one holder per name; the holder that was taken over knows it lost; release frees the name', () => {
    const dir = tmp();
    const a = new Leases(dir, thisProcess('a'));
    const b = new Leases(dir, thisProcess('b'));
    assert.deepEqual(a.tryClaim('summary'), { ok: true });
    const refused = b.tryClaim('summary');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.holder.worker, 'a');
    assert.deepEqual(a.renewAll(), []);
    // b judged a gone (as a lease that expired would be) and took generation 1.
    const c = new Leases(dir, { worker: 'c', pid: process.pid, host: os.hostname() });
    fs.writeFileSync(
      path.join(dir, 'summary.1'),
      JSON.stringify({
        ...JSON.parse(fs.readFileSync(path.join(dir, 'summary.0'), 'utf8')),
        worker: 'c',
        generation: 1,
      }),
    );
    assert.equal(a.holds('summary'), false);
    assert.deepEqual(a.renewAll(), ['summary']);
    assert.equal(c.tryClaim('summary').ok, false, 'c does not hold what it did not claim itself');
    fs.rmSync(path.join(dir, 'summary.1'));
    fs.rmSync(path.join(dir, 'summary.0'));
    assert.ok(b.tryClaim('summary').ok);
    b.release('summary');
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('a claim marked done is never taken over, even once its holder is gone', () => {
    const dir = tmp();
    leftBy(dir, 'job-7', { worker: 'gone', pid: deadPid(), host: os.hostname() }, 0);
    const file = path.join(dir, 'job-7.0');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), done: true }));
    const r = new Leases(dir, thisProcess('me')).tryClaim('job-7');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.holder.done, true);
    // complete() is how a holder marks it: kept, no longer held or renewed.
    const a = new Leases(dir, thisProcess('a'));
    assert.ok(a.tryClaim('job-8').ok);
    a.complete('job-8');
    assert.deepEqual(a.renewAll(), []);
    assert.equal(a.holds('job-8'), false);
    const again = new Leases(dir, thisProcess('b')).tryClaim('job-8');
    assert.equal(!again.ok && again.holder.worker, 'a');
  });

  it('separate processes racing for one name: exactly one wins', async () => {
    const dir = tmp();
    const go = path.join(dir, 'go');
    const claims = path.join(dir, 'claims');
    const module = pathToFileURL(path.join(__dirname, '..', '..', 'core', 'node', 'util', 'leases.ts')).href;
    const tsx = pathToFileURL(path.join(__dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    // Each process says it is ready, waits for the go file, claims at once, and stays alive (a
    // holder that exited would be taken over) until the parent has read every answer.
    const code = `const fs = await import('node:fs');
const m = await import(${JSON.stringify(module)});
const { Leases, thisProcess } = m.default ?? m; // tsx serves the CommonJS build's exports as default
const l = new Leases(${JSON.stringify(claims)}, thisProcess('w' + process.pid));
process.stdout.write('ready\\n');
while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
process.stdout.write(String(l.tryClaim('job-0').ok) + '\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', code], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const answers = children.map((child) => {
      let out = '';
      return {
        ready: new Promise<void>((resolve) =>
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.startsWith('ready')) resolve();
          }),
        ),
        answer: () => out.split('\n')[1],
      };
    });
    try {
      await Promise.all(answers.map((a) => a.ready));
      fs.writeFileSync(go, '');
      const t0 = Date.now();
      while (answers.some((a) => !a.answer()) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
      const outs = answers.map((a) => a.answer());
      assert.equal(outs.filter((o) => o === 'true').length, 1, outs.join(','));
      assert.equal(outs.filter((o) => o === 'false').length, 3, outs.join(','));
    } finally {
      for (const c of children) c.stdin.end();
    }
  });
});
