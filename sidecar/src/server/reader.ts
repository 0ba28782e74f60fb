/**
 * The sidecar's JSON-RPC reader: the base protocol's frames (`Content-Length: N\r\n\r\n` + N
 * bytes of JSON) read from stdin with bounds, because vscode-jsonrpc's own reader trusts every
 * frame: a 60 MB request is buffered and parsed (seconds of a blocked sidecar), malformed JSON
 * gets no answer, and a Content-Length longer than its body swallows the next request.
 *
 * Here a frame over `maxBytes` is skipped as it streams and answered with -32600; a body that is
 * not JSON is answered with -32700 (Parse error, id null, as JSON-RPC 2.0 says); a body that
 * runs into the next frame's header (a Content-Length that says too much) is cut there, so both
 * requests are read; a frame that stays incomplete for `partialMs` is taken as it is; bytes that
 * are not a frame are skipped up to the next `Content-Length:` header.
 */
import type { Readable } from 'node:stream';
import {
  AbstractMessageReader,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
} from 'vscode-jsonrpc';

/** Requests to the sidecar are paths and a few options: a few kB. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** A header block (Content-Length, Content-Type) longer than this is not a header. */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADER = Buffer.from('Content-Length:', 'latin1');
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export interface ErrorReply {
  jsonrpc: '2.0';
  id: number | string | null;
  error: { code: number; message: string };
}

export interface BoundedReaderOptions {
  maxBytes?: number;
  /** How long a frame may stay incomplete before it is taken as it is (ms). */
  partialMs?: number;
  /** Sends an error response (the server's writer). */
  reply: (m: ErrorReply) => void;
  /** Says what was refused (the sidecar's stderr). */
  log?: (message: string) => void;
}

const HEADER_LOWER = Buffer.from('content-length:', 'latin1');

/** Finds `Content-Length:` (as written, or in lower case) from `from`; -1 if absent. */
function indexOfHeader(buf: Buffer, from: number): number {
  const a = buf.indexOf(HEADER, from);
  const b = buf.indexOf(HEADER_LOWER, from);
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}

export class BoundedMessageReader extends AbstractMessageReader implements MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Body length of the frame being read; -1 while reading headers. */
  private length = -1;
  /** Bytes of an oversized frame still to be skipped. */
  private skip = 0;
  /** How far the body being read has been searched for a next frame's header. */
  private scanned = 0;
  private timer: NodeJS.Timeout | undefined;
  private callback: DataCallback | undefined;
  private readonly maxBytes: number;
  private readonly partialMs: number;

  constructor(
    private readonly readable: Readable,
    private readonly opts: BoundedReaderOptions,
  ) {
    super();
    this.maxBytes = opts.maxBytes ?? MAX_MESSAGE_BYTES;
    this.partialMs = opts.partialMs ?? 5000;
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer): void => this.onData(chunk);
    const onError = (e: Error): void => this.fireError(e);
    const onClose = (): void => {
      this.flush();
      this.fireClose();
    };
    this.readable.on('data', onData);
    this.readable.on('error', onError);
    this.readable.on('end', onClose);
    return {
      dispose: () => {
        this.readable.off('data', onData);
        this.readable.off('error', onError);
        this.readable.off('end', onClose);
        clearTimeout(this.timer);
      },
    };
  }

  private refuse(code: number, message: string, id: number | string | null = null): void {
    this.opts.log?.(`refused a message: ${message}`);
    this.opts.reply({ jsonrpc: '2.0', id, error: { code, message } });
  }

  private onData(chunk: Buffer): void {
    clearTimeout(this.timer);
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
      if (!chunk.length) return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.drain();
    if (this.buf.length) this.timer = setTimeout(() => this.flush(), this.partialMs);
  }

  /** Reads every complete frame in the buffer. */
  private drain(): void {
    for (;;) {
      if (this.length < 0) {
        if (!this.readHeaders()) return;
        if (this.length > this.maxBytes) {
          const over = this.length;
          this.length = -1;
          const n = Math.min(over, this.buf.length);
          this.buf = this.buf.subarray(n);
          this.skip = over - n;
          this.refuse(
            INVALID_REQUEST,
            `Invalid Request: a message of ${over} bytes is over the limit of ${this.maxBytes} bytes`,
          );
          continue;
        }
      }
      // A body that says it is longer than it is runs into the next frame: cut it there. (A
      // header cannot be inside JSON: its line breaks would be raw CR/LF, which JSON escapes.)
      const next = this.nextFrame();
      if (next >= 0) {
        this.deliver(
          this.buf.subarray(0, next),
          `the body has ${next} of the ${this.length} bytes its Content-Length announced`,
        );
        this.buf = this.buf.subarray(next);
        this.length = -1;
        this.scanned = 0;
        continue;
      }
      if (this.buf.length < this.length) return;
      const body = this.buf.subarray(0, this.length);
      this.buf = this.buf.subarray(this.length);
      this.length = -1;
      this.scanned = 0;
      this.deliver(body);
    }
  }

  /** Where a complete frame header starts inside the body being read (before its end), or -1. */
  private nextFrame(): number {
    const limit = Math.min(this.buf.length, this.length);
    for (let at = indexOfHeader(this.buf, this.scanned); at >= 0 && at < limit; at = indexOfHeader(this.buf, at + 1)) {
      if (this.isFrameStart(at)) return at;
      // A header whose block has not fully arrived yet is looked at again with the next bytes.
      if (this.buf.indexOf(HEADER_END, at) < 0) {
        this.scanned = at;
        return -1;
      }
    }
    this.scanned = Math.max(0, limit - HEADER.length);
    return -1;
  }

  /** Whether a complete header block (with a valid Content-Length) starts at `at`. */
  private isFrameStart(at: number): boolean {
    const end = this.buf.indexOf(HEADER_END, at);
    if (end < 0 || end - at > MAX_HEADER_BYTES) return false;
    return /^content-length:\s*\d+\s*$/im.test(this.buf.subarray(at, end).toString('latin1'));
  }

  /** Consumes a header block; false when there is not a whole one yet. */
  private readHeaders(): boolean {
    for (;;) {
      const end = this.buf.indexOf(HEADER_END);
      if (end < 0) {
        if (this.buf.length > MAX_HEADER_BYTES) this.resync('a header block without an end');
        return false;
      }
      const text = this.buf.subarray(0, end).toString('latin1');
      const m = /^content-length:[ \t]*(\S*)[ \t]*$/im.exec(text);
      // Headers start the frame: anything before them is not a frame.
      const clean = end <= MAX_HEADER_BYTES && /^content-/i.test(text);
      if (clean && m && /^\d{1,15}$/.test(m[1])) {
        this.buf = this.buf.subarray(end + HEADER_END.length);
        this.length = Number(m[1]);
        this.scanned = 0;
        return true;
      }
      this.resync(
        !clean
          ? 'bytes that are not a frame'
          : m
            ? `Content-Length must be a number of bytes, found '${m[1].slice(0, 40)}'`
            : 'a frame without a Content-Length header',
      );
      if (!this.buf.length) return false;
    }
  }

  /** Skips bytes that are not a frame, up to the next `Content-Length:` header; says so once. */
  private resync(why: string): void {
    const next = indexOfHeader(this.buf, 1);
    this.buf = next < 0 ? Buffer.alloc(0) : this.buf.subarray(next);
    this.refuse(PARSE_ERROR, `Parse error: ${why}; skipped to the next Content-Length header`);
  }

  /** An incomplete frame that no more bytes came for: taken as it is. */
  private flush(): void {
    if (this.length >= 0 && this.buf.length) {
      const body = this.buf;
      const announced = this.length;
      this.buf = Buffer.alloc(0);
      this.length = -1;
      this.deliver(body, `the body has ${body.length} of the ${announced} bytes its Content-Length announced`);
    } else if (this.length < 0 && this.buf.length && this.buf.toString('latin1').trim()) {
      this.buf = Buffer.alloc(0);
      this.refuse(
        PARSE_ERROR,
        'Parse error: bytes that are not a frame (Content-Length: N, an empty line, N bytes of JSON)',
      );
    }
  }

  private deliver(body: Buffer, short?: string): void {
    let message: unknown;
    try {
      message = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch (e) {
      this.refuse(
        PARSE_ERROR,
        `Parse error: ${short ? `${short}, and it is` : 'the body is'} not valid UTF-8 JSON (${(e as Error).message.slice(0, 200)})`,
      );
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.refuse(
        INVALID_REQUEST,
        `Invalid Request: expected a JSON-RPC object, found ${Array.isArray(message) ? 'an array (batches are not supported)' : message === null ? 'null' : typeof message}`,
      );
      return;
    }
    const m = message as Record<string, unknown>;
    const id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : null;
    if (
      m.jsonrpc !== '2.0' ||
      (m.method !== undefined && typeof m.method !== 'string') ||
      (m.method === undefined && id !== null && !('result' in m) && !('error' in m))
    ) {
      this.refuse(
        INVALID_REQUEST,
        'Invalid Request: expected {"jsonrpc": "2.0", "method": string, "id"?, "params"?}',
        id,
      );
      return;
    }
    this.callback?.(message as Message);
  }
}
