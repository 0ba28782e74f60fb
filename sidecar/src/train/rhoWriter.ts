/**
 * The learned ρ of the reported (final) jobs: a `rho` event and a rewrite of the job's ρ file
 * at each evaluation, so that dashboards reading the run store show ρ as it moves, and the
 * final values (without `step`) when the job ends. Tune jobs' ρ is neither sent nor kept: they
 * only choose β.
 */
import type { RhoEvent, Segment } from '../../../core/common/protocol/events';
import type { RunOutputs } from '../../../core/node/runs/store';

export class RhoWriter {
  constructor(
    private readonly runId: string,
    private readonly store: RunOutputs,
    private readonly segments: Segment[],
    private readonly emit: (e: RhoEvent) => void,
  ) {}

  /** ρ at an evaluation during training. */
  atStep(method: string, seed: number, step: number, rho: Float32Array): void {
    this.emit({ type: 'rho', runId: this.runId, method, seed, step, segments: this.segments, values: Array.from(rho) });
    this.store.writeRho(method, seed, this.segments, rho, step);
  }

  /** ρ at the end of a job; replaces the file written during training. */
  atEnd(method: string, seed: number, rho: Float32Array): void {
    this.store.writeRho(method, seed, this.segments, rho);
  }
}
