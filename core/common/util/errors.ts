/** Where in a user's file a problem was found (1-based line and column). */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path of the field, e.g. `train.batch`. */
  field?: string;
}

/**
 * The one list of error codes that cross a process boundary, each with its JSON-RPC error code
 * and the `aft` CLI's exit code:
 * - bad_input: the request, the experiment file or a file it names is wrong (it says where);
 * - run_failed: the inputs were fine but the work failed (diverged, a disk full, a model that
 *   does not match its export);
 * - busy: the run limit is reached, or that file is already running or being extracted;
 * - cancelled: the user stopped it;
 * - internal: a bug (the message carries the stack).
 */
export const ERROR_CODES = {
  internal: { rpc: 1, exit: 1 },
  bad_input: { rpc: 2, exit: 2 },
  busy: { rpc: 3, exit: 1 },
  cancelled: { rpc: 5, exit: 1 },
  run_failed: { rpc: 6, exit: 1 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error the user can act on: it says where and what, with one of the codes above. */
export class AftError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly location?: SourceLocation,
    public readonly details?: string[],
  ) {
    super(message);
    this.name = 'AftError';
  }

  /** The message with its location prefix, as a compiler would print it. */
  format(): string {
    const loc = this.location;
    const where = loc ? `${loc.file}${loc.line !== undefined ? `:${loc.line}:${loc.column ?? 1}` : ''}: ` : '';
    const field = loc?.field ? `${loc.field}: ` : '';
    const extra = this.details?.length ? '\n' + this.details.map((d) => `  ${d}`).join('\n') : '';
    return `${where}${field}${this.message}${extra}`;
  }

  toJSON(): { code: ErrorCode; message: string; location?: SourceLocation; details?: string[] } {
    return { code: this.code, message: this.message, location: this.location, details: this.details };
  }
}

export function badInput(message: string, location?: SourceLocation, details?: string[]): AftError {
  return new AftError('bad_input', message, location, details);
}

/** A request refused because the sidecar is already doing that, or as much as it may. */
export class BusyError extends AftError {
  constructor(message: string) {
    super('busy', message);
  }
}

export class CancelledError extends AftError {
  constructor() {
    super('cancelled', 'cancelled by the user');
  }
}

export function describeError(e: unknown): string {
  if (e instanceof AftError) return e.format();
  if (e instanceof Error) return e.stack ?? e.message;
  return String(e);
}
