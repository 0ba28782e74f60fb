/** Where in a user's file a problem was found (1-based line and column). */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path of the field, e.g. `train.batch`. */
  field?: string;
}

/** Error codes that cross process boundaries (CLI exit codes, JSON-RPC errors). */
export type ErrorCode = 'bad_input' | 'run_failed' | 'cancelled' | 'internal';

/**
 * An error the user can act on: it says where and what. Bad input maps to exit code 2,
 * everything else to 1.
 */
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
    const where = loc
      ? `${loc.file}${loc.line !== undefined ? `:${loc.line}:${loc.column ?? 1}` : ''}: `
      : '';
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
