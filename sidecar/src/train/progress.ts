/**
 * Progress of a run's jobs as `progress` events: the fraction of the whole run done, weighted
 * by steps, and the time left, estimated from each method's measured speed. Training reports
 * every step; events are sent at most every 200 ms (and at each job's last step) because each
 * one is a heartbeat write in the run store and a message to the extension.
 */
import type { ProgressEvent } from '../../../core/common/protocol/events';
import type { PlannedJob } from './plan';

/** Estimates the time left from the measured milliseconds per step of each method. */
export class Eta {
  private readonly msPerStep = new Map<string, number>();
  record(method: string, ms: number, steps: number): void {
    if (steps > 0) this.msPerStep.set(method, ms / steps);
  }
  seconds(remaining: { method: string; steps: number }[]): number | null {
    if (this.msPerStep.size === 0) return null;
    const mean = [...this.msPerStep.values()].reduce((a, b) => a + b, 0) / this.msPerStep.size;
    return remaining.reduce((a, r) => a + r.steps * (this.msPerStep.get(r.method) ?? mean), 0) / 1000;
  }
}

export class ProgressTracker {
  private readonly eta = new Eta();
  private readonly totalSteps: number;
  private doneSteps = 0;
  /** When the last event was sent (performance.now()), across jobs. */
  private lastSent = 0;

  constructor(
    private readonly runId: string,
    private readonly jobs: PlannedJob[],
    private readonly emit: (e: ProgressEvent) => void,
  ) {
    this.totalSteps = jobs.reduce((a, j) => a + j.steps, 0);
  }

  /** The step callback of job `j` (0-based), labelled `label`. */
  onStep(j: number, label: string): (step: number, total: number) => void {
    const job = this.jobs[j];
    let firstStep: { at: number; step: number } | undefined;
    return (step, total) => {
      const now = performance.now();
      if (now - this.lastSent < 200 && step < total) return;
      this.lastSent = now;
      // The rate from the job's first reported step on: setting a method up (factor
      // transfer's autoencoder, LogME) happens before step 1 and is not a per-step cost.
      firstStep ??= { at: now, step };
      if (step - firstStep.step >= 5) this.eta.record(job.method.kind, now - firstStep.at, step - firstStep.step);
      const remaining = [
        { method: job.method.kind, steps: job.steps - step },
        ...this.jobs.slice(j + 1).map((r) => ({ method: r.method.kind, steps: r.steps })),
      ];
      this.emit({
        type: 'progress',
        runId: this.runId,
        label,
        step,
        steps: total,
        job: j + 1,
        jobs: this.jobs.length,
        fraction: (this.doneSteps + step) / this.totalSteps,
        etaSeconds: this.eta.seconds(remaining),
      });
    };
  }

  /** Counts job `j`'s planned steps as done. */
  jobDone(j: number): void {
    this.doneSteps += this.jobs[j].steps;
  }
}
