/**
 * When a crashed sidecar may be restarted: at most `maxRestarts` times within `windowMs`
 * (vscode-languageclient's policy: 5 times in 3 minutes), after which the user is told.
 */
export class RestartPolicy {
  private readonly crashes: number[] = [];

  constructor(
    readonly maxRestarts = 5,
    readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a crash; true when another restart is allowed. */
  recordCrash(): boolean {
    const t = this.now();
    this.crashes.push(t);
    while (this.crashes.length && this.crashes[0] <= t - this.windowMs) this.crashes.shift();
    return this.crashes.length <= this.maxRestarts;
  }

  /** Forgets past crashes (after the user restarts the sidecar by hand). */
  reset(): void {
    this.crashes.length = 0;
  }
}
