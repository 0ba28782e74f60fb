/** Helpers shared by the tests that drive a real sidecar through the extension's client. */
import assert from 'node:assert/strict';
import { ResponseError } from 'vscode-jsonrpc';
import type { SidecarClient } from '../../extension/src/sidecar/client';
import type { RunEvent } from '../../core/common/protocol/events';
import type { ErrorData } from '../../core/common/protocol/rpc';

/**
 * The first event matching `pred`, or a rejection after `timeoutMs` that lists the last events
 * seen (so that a timeout in CI says what happened instead).
 */
export function waitFor<T extends RunEvent>(
  c: SidecarClient,
  pred: (e: RunEvent) => e is T,
  timeoutMs = 60_000,
): Promise<T> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out waiting for an event; the last seen:\n${seen.slice(-12).join('\n') || '(none)'}`));
    }, timeoutMs);
    const sub = c.onRunEvent((e) => {
      seen.push(JSON.stringify(e).slice(0, 300));
      if (pred(e)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(e);
      }
    });
  });
}

/** Asserts that a request fails with a typed error of `kind` (and, if given, naming `field`). */
export async function rejectsWith(
  p: Promise<unknown>,
  kind: ErrorData['kind'],
  message: RegExp,
  field?: string,
): Promise<ResponseError<ErrorData>> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ResponseError, `expected a ResponseError, got ${String(e)}`);
    const err = e as ResponseError<ErrorData>;
    assert.equal(err.data?.kind, kind, err.message);
    assert.match(err.message, message);
    if (field !== undefined) assert.equal(err.data?.location?.field, field, err.message);
    return err;
  }
  assert.fail('expected the request to fail');
}
