/**
 * Waits for a webview's `ready` while it is visible, and loads it again when `ready` does not
 * come. VS Code's webviews can fail to start and stay blank, saying nothing to the extension: the
 * webview's host page waits for its service worker (microsoft/vscode#125993), and seen here in
 * code-server, a host page that waits for a `controllerchange` that never comes stays blank for
 * good, whatever page is set again; a new panel (a new host page) starts. After the last retry it
 * gives up and says so, so that a user is told what to do instead of looking at a blank panel.
 * Free of `vscode` (the panel passes callbacks) so it is unit-tested with fake timers.
 */
import { realTimers, type Timers } from './throttle';

export interface ReadyWatchdogHooks {
  /** Load the webview again (attempt 1, 2, …): the panel opened anew, or its page set again. */
  reload(attempt: number, waitedMs: number): void;
  /** No `ready` after every retry. */
  giveUp(waitedMs: number): void;
}

/** How long to wait for `ready` before each reload, then before giving up (ms). */
export const READY_WAITS_MS: readonly number[] = [10_000, 20_000, 30_000];

export class ReadyWatchdog {
  private timer: unknown;
  private attempt = 0;
  private waiting = false;
  private done = false;

  private readonly waits: readonly number[];
  private readonly timers: Timers;

  constructor(
    private readonly hooks: ReadyWatchdogHooks,
    opts: {
      waits?: readonly number[];
      timers?: Timers;
      /** Reloads already tried (by the panels this one replaces). */
      startAttempt?: number;
    } = {},
  ) {
    this.waits = opts.waits ?? READY_WAITS_MS;
    this.timers = opts.timers ?? realTimers;
    this.attempt = opts.startAttempt ?? 0;
  }

  /** The page was (re)loaded into a visible webview: wait for its `ready`. */
  loading(): void {
    if (this.done) return;
    this.clear();
    this.waiting = true;
    const wait = this.waits[Math.min(this.attempt, this.waits.length - 1)];
    this.timer = this.timers.setTimeout(() => this.expired(wait), wait);
  }

  /** The webview said `ready`: it works; later loads (on showing it again) are its own. */
  ready(): void {
    this.waiting = false;
    this.attempt = 0;
    this.clear();
  }

  /** Hidden: a hidden webview does not load, so there is nothing to wait for until it shows. */
  hidden(): void {
    this.clear();
  }

  /** Shown again: it reloads its page (contexts are not retained), so wait for `ready` again. */
  shown(): void {
    this.loading();
  }

  dispose(): void {
    this.done = true;
    this.clear();
  }

  private expired(waited: number): void {
    this.timer = undefined;
    if (!this.waiting || this.done) return;
    this.attempt++;
    if (this.attempt >= this.waits.length) {
      this.done = true;
      this.hooks.giveUp(waited);
      return;
    }
    this.hooks.reload(this.attempt, waited);
    this.loading();
  }

  private clear(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
