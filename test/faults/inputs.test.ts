/**
 * Bad input, everywhere it enters (issue 15): experiment files, .npy, safetensors, ONNX,
 * tokenizer.json, CLI arguments, tampered run folders, JSON-RPC requests and frames, editor
 * documents. Every case (test/faults/cases/inputs/<kind>/, format in inputCases.ts) must end in a
 * clear error: exit 2 (or an RPC error of kind bad_input, or a JSON-RPC error reply), a message
 * that names the file and the field or what was expected, no stack trace, within its time bound,
 * and no run folder left behind. The figures are printed at the end.
 *
 * CLI cases spawn the built CLI (`npm run build` first), a few at a time; RPC and frame cases
 * share one built sidecar; editor cases share one built language server.
 */
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { frameBytes, layDown, loadCases, ROOT, substitute, type Case, type Expect } from './inputCases';

const CLI = path.join(ROOT, 'dist', 'sidecar', 'cli.js');
const SERVER = path.join(ROOT, 'dist', 'sidecar', 'server.js');
const LANGUAGE_SERVER = path.join(ROOT, 'dist', 'language-server', 'server.js');
const DEFAULT_WITHIN_MS = 20_000;
/** How long a stuck tokenizer may stall in these tests (the product waits 10 s). */
const STALL_MS = '2000';

type Verdict = 'clear' | 'stack' | 'hang' | 'silent' | 'unclear';
const figures: Record<Verdict, string[]> = { clear: [], stack: [], hang: [], silent: [], unclear: [] };

/** A stack frame, or an error class that means an unhandled bug rather than a message. */
const STACK =
  /^\s*at\s+(?:\S.*\(.*:\d+:\d+\)|\S+:\d+:\d+|native)\s*$|\b(?:TypeError|ReferenceError|RangeError)\b|Cannot read properties of/m;

const cases = loadCases();
/** FIFOs and links to /dev/zero exist on POSIX systems only. */
const posixOnly = (c: Case): { skip?: string } =>
  process.platform === 'win32' && /"(fifo|symlink)"/.test(JSON.stringify(c.files))
    ? { skip: 'needs FIFOs and /dev/zero' }
    : {};
const byChannel = (f: (c: Case) => boolean): Case[] => cases.filter(f);

const workspaces: string[] = [];
function tmpdir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-fault-'));
  workspaces.push(dir);
  return dir;
}

function runFolders(ws: string): string[] {
  const dir = path.join(ws, '.aft', 'runs');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** Records a case's verdict and fails the test unless it is a clear error. */
function judge(c: Case, verdict: Verdict, detail: string): void {
  figures[verdict].push(`${c.kind}/${c.name}`);
  assert.equal(verdict, 'clear', `${c.kind}/${c.name} (${c.about}): ${verdict}\n${detail}`);
}

/** The verdict on a message: a stack, nothing said, the wrong thing said, or clear. */
function verdictOf(text: string, expect: Expect): Verdict {
  if (STACK.test(text)) return 'stack';
  if (!text.trim()) return 'silent';
  if (expect.message && !new RegExp(expect.message, 's').test(text)) return 'unclear';
  return 'clear';
}

// ---------------------------------------------------------------------------------------------
// The CLI

interface CliOutcome {
  code: number | null;
  out: string;
  ms: number;
  timedOut: boolean;
}

function aft(args: string[], ws: string, env: Record<string, string>, withinMs: number): Promise<CliOutcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ws,
      env: { ...process.env, AFT_CACHE_DIR: path.join(ws, '.cache'), AFT_TOKENIZE_STALL_MS: STALL_MS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, withinMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, ms: performance.now() - t0, timedOut });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The sidecar, spoken to with raw frames

interface Reply {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: { type?: string; runId?: string; state?: string; message?: string; removed?: boolean };
  result?: unknown;
  error?: { code: number; message: string; data?: { kind?: string } };
}

class RawSidecar {
  private buf = Buffer.alloc(0);
  readonly messages: Reply[] = [];
  private waiters: { pred: (m: Reply) => boolean; resolve: (m: Reply) => void }[] = [];
  stderr = '';
  private nextId = 1;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => this.onData(d));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  static start(): RawSidecar {
    return new RawSidecar(
      spawn(process.execPath, [SERVER], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, AFT_TOKENIZE_STALL_MS: STALL_MS },
      }),
    );
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/Content-Length:\s*(\d+)/i.exec(this.buf.subarray(0, end).toString())?.[1]);
      if (this.buf.length < end + 4 + length) return;
      const m = JSON.parse(this.buf.subarray(end + 4, end + 4 + length).toString()) as Reply;
      this.buf = this.buf.subarray(end + 4 + length);
      this.messages.push(m);
      const ready = this.waiters.filter((w) => w.pred(m));
      this.waiters = this.waiters.filter((w) => !ready.includes(w));
      for (const w of ready) w.resolve(m);
    }
  }

  write(bytes: Buffer): void {
    this.child.stdin!.write(bytes);
  }

  /** The first message (already received or to come) matching `pred`, or undefined after `ms`. */
  wait(pred: (m: Reply) => boolean, ms: number, from = 0): Promise<Reply | undefined> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const w = {
        pred,
        resolve: (m: Reply): void => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(undefined);
      }, ms);
      this.waiters.push(w);
    });
  }

  async request(method: string, params: unknown, ms: number): Promise<Reply | undefined> {
    const id = `q${this.nextId++}`;
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    this.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    return this.wait((m) => m.id === id, ms);
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.on('exit', r));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The language server, over IPC as the extension starts it

class LanguageServer {
  private nextId = 1;
  private readonly pending = new Map<number, (m: unknown) => void>();
  private readonly diagnostics = new Map<string, (d: { message: string }[]) => void>();

  private constructor(readonly child: ChildProcess) {
    child.on(
      'message',
      (m: {
        id?: number;
        method?: string;
        result?: unknown;
        params?: { uri: string; diagnostics: { message: string }[] };
      }) => {
        if (m.id !== undefined && this.pending.has(m.id)) {
          this.pending.get(m.id)!(m.result);
          this.pending.delete(m.id);
        } else if (m.method === 'textDocument/publishDiagnostics' && m.params) {
          this.diagnostics.get(m.params.uri)?.(m.params.diagnostics);
        }
      },
    );
  }

  static async start(): Promise<LanguageServer> {
    const s = new LanguageServer(fork(LANGUAGE_SERVER, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }));
    await s.request('initialize', { processId: process.pid, rootUri: null, capabilities: {} }, 20_000);
    s.child.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
    return s;
  }

  request(method: string, params: unknown, ms: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      this.pending.set(id, (r) => (clearTimeout(timer), resolve(r ?? null)));
      this.child.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  open(uri: string, text: string, ms: number): Promise<{ message: string }[] | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      this.diagnostics.set(uri, (d) => (clearTimeout(timer), resolve(d)));
      this.child.send({
        jsonrpc: '2.0',
        method: 'textDocument/didOpen',
        params: { textDocument: { uri, languageId: 'aft-experiment', version: 1, text } },
      });
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.on('exit', r));
    await this.request('shutdown', null, 5000);
    this.child.send({ jsonrpc: '2.0', method: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------

describe('bad input gets a clear error', () => {
  before(() => {
    for (const f of [CLI, SERVER, LANGUAGE_SERVER])
      assert.ok(fs.existsSync(f), `${f} is missing: run \`npm run build\` first`);
  });

  after(() => {
    for (const dir of workspaces) fs.rmSync(dir, { recursive: true, force: true });
    const n = (v: Verdict): number => figures[v].length;
    const tried = n('clear') + n('stack') + n('hang') + n('silent') + n('unclear');
    const list = (v: Verdict): string => (n(v) ? ` (${figures[v].join(', ')})` : '');
    process.stdout.write(
      [
        '',
        `bad inputs tried: ${tried}`,
        `  clear errors:     ${n('clear')}`,
        `  stack traces:     ${n('stack')}${list('stack')}`,
        `  hangs:            ${n('hang')}${list('hang')}`,
        `  silent failures:  ${n('silent')}${list('silent')}`,
        `  unclear messages: ${n('unclear')}${list('unclear')}`,
        '',
      ].join('\n'),
    );
  });

  describe('the aft command', { concurrency: Math.max(2, Math.min(4, os.availableParallelism())) }, () => {
    for (const c of byChannel((x) => x.cli !== undefined)) {
      it(`${c.kind}/${c.name}: ${c.about}`, posixOnly(c), async () => {
        const ws = tmpdir();
        layDown(ws, c.files);
        const runsBefore = runFolders(ws);
        const within = c.expect.withinMs ?? DEFAULT_WITHIN_MS;
        const r = await aft(substitute(c.cli!, ws), ws, c.env ?? {}, within);
        const detail = `exit ${r.code} after ${r.ms.toFixed(0)} ms\n${r.out}`;
        if (r.timedOut) return judge(c, 'hang', detail);
        let verdict = verdictOf(r.out, c.expect);
        if (verdict === 'clear' && r.code !== (c.expect.exit ?? 2)) verdict = r.out.trim() ? 'unclear' : 'silent';
        const left = runFolders(ws).filter((d) => !runsBefore.includes(d));
        if (c.expect.runFolder === 'failed') {
          // A run that trained and then failed keeps its folder; status.json says why, without a stack.
          const status =
            left.length === 1
              ? (JSON.parse(fs.readFileSync(path.join(ws, '.aft', 'runs', left[0], 'status.json'), 'utf8')) as {
                  state: string;
                  message?: string;
                })
              : undefined;
          if (verdict === 'clear' && status)
            verdict = status.state === 'failed' ? verdictOf(status.message ?? '', c.expect) : 'unclear';
          else if (verdict === 'clear') verdict = 'unclear';
          return judge(c, verdict, `${detail}\nstatus.json: ${JSON.stringify(status)}`);
        }
        if (verdict === 'clear' && left.length) verdict = 'unclear';
        judge(c, verdict, `${detail}${left.length ? `\nrun folders left behind: ${left.join(', ')}` : ''}`);
      });
    }
  });

  describe('the sidecar (JSON-RPC)', () => {
    let sidecar: RawSidecar;
    before(() => {
      sidecar = RawSidecar.start();
    });
    after(async () => {
      await sidecar.stop();
    });

    for (const c of byChannel((x) => x.rpc !== undefined || x.frames !== undefined)) {
      it(`${c.kind}/${c.name}: ${c.about}`, posixOnly(c), async () => {
        const ws = tmpdir();
        layDown(ws, c.files);
        const within = c.expect.withinMs ?? DEFAULT_WITHIN_MS;
        const from = sidecar.messages.length;
        if (c.rpc) {
          const reply = await sidecar.request(c.rpc.method, substitute(c.rpc.params, ws), within);
          if (!reply)
            return judge(c, 'hang', `no answer to ${c.rpc.method} within ${within} ms\n${sidecar.stderr.slice(-2000)}`);
          if (c.expect.event !== undefined) {
            // The run started; it must fail with a clear status event, the sidecar answering meanwhile.
            const runId = (reply.result as { runId?: string } | undefined)?.runId;
            if (!runId)
              return judge(
                c,
                verdictOf(reply.error?.message ?? '', c.expect),
                `expected the run to start, got ${JSON.stringify(reply)}`,
              );
            const t0 = performance.now();
            const listed = await sidecar.request('aft/listRuns', { workspaceDir: ws }, 3000);
            if (!listed) return judge(c, 'hang', 'the sidecar did not answer aft/listRuns while the run was failing');
            const answered = performance.now() - t0;
            const ended = await sidecar.wait(
              (m) => m.params?.type === 'status' && m.params.runId === runId && m.params.state !== 'running',
              within,
              from,
            );
            if (!ended) return judge(c, 'hang', `run ${runId} did not end within ${within} ms`);
            const text = ended.params!.message ?? '';
            let verdict = verdictOf(text, { message: c.expect.event });
            if (verdict === 'clear' && (ended.params!.state !== 'failed' || runFolders(ws).length)) verdict = 'unclear';
            return judge(
              c,
              verdict,
              `${JSON.stringify(ended.params)}; aft/listRuns answered in ${answered.toFixed(0)} ms; run folders: ${runFolders(ws).join(', ')}`,
            );
          }
          if (!reply.error) return judge(c, 'unclear', `expected an error, got ${JSON.stringify(reply).slice(0, 500)}`);
          let verdict = verdictOf(reply.error.message, c.expect);
          if (verdict === 'clear' && reply.error.data?.kind !== (c.expect.kind ?? 'bad_input')) verdict = 'unclear';
          if (verdict === 'clear' && runFolders(ws).length) verdict = 'unclear';
          return judge(c, verdict, JSON.stringify(reply.error).slice(0, 2000));
        }
        for (const f of c.frames!) sidecar.write(frameBytes(f, ws));
        for (const want of c.expect.replies ?? []) {
          const got = await sidecar.wait(
            (m) =>
              m.method === undefined &&
              (want.id === undefined || m.id === want.id) &&
              (want.code === undefined || m.error?.code === want.code) &&
              (want.result !== true || m.result !== undefined),
            within,
            from,
          );
          if (!got)
            return judge(
              c,
              'hang',
              `no reply ${JSON.stringify(want)} within ${within} ms; got ${JSON.stringify(sidecar.messages.slice(from)).slice(0, 1000)}\n${sidecar.stderr.slice(-1000)}`,
            );
          const verdict = want.message
            ? verdictOf(got.error?.message ?? '', { message: want.message })
            : got.error?.message && STACK.test(got.error.message)
              ? 'stack'
              : 'clear';
          if (verdict !== 'clear') return judge(c, verdict, JSON.stringify(got).slice(0, 1000));
        }
        // Still answering, and answering what it is asked.
        const alive = await sidecar.request('aft/listRuns', { workspaceDir: ws }, 5000);
        judge(c, alive && !alive.error ? 'clear' : 'hang', `after the frames: ${JSON.stringify(alive)}`);
      });
    }
  });

  describe('the language server', () => {
    let server: LanguageServer;
    before(async () => {
      server = await LanguageServer.start();
    });
    after(async () => {
      await server.stop();
    });

    for (const c of byChannel((x) => x.lsp !== undefined)) {
      it(`${c.kind}/${c.name}: ${c.about}`, posixOnly(c), async () => {
        const ws = tmpdir();
        layDown(ws, c.files);
        const file = path.join(ws, c.lsp!.open);
        const uri = pathToFileURL(file).toString();
        const within = c.expect.withinMs ?? DEFAULT_WITHIN_MS;
        const d = await server.open(uri, fs.readFileSync(file, 'utf8'), within);
        if (!d) return judge(c, 'hang', `no diagnostics within ${within} ms`);
        const text = d.map((x) => x.message).join('\n');
        const hover = await server.request(
          'textDocument/hover',
          { textDocument: { uri }, position: { line: 0, character: 1 } },
          5000,
        );
        if (hover === undefined) return judge(c, 'hang', 'the server stopped answering after the document');
        judge(c, verdictOf(text, c.expect), text);
      });
    }
  });
});
