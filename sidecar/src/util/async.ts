/**
 * Lets pending I/O through (signals, cancel requests over RPC, stdout) from inside long
 * synchronous work such as a training loop.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
