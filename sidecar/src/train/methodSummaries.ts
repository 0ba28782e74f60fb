/**
 * Assembles each method's summary (summary.json `methods`, the `result` event) from its final
 * jobs: test accuracy per seed with mean and standard error, the β used, the β tuning, the
 * mean ρ per source and the training time. A method's summary is complete, and returned,
 * once its last final job is in, so that its result can be sent while later methods train.
 */
import type { MethodSummary, Segment } from '../../../core/common/protocol/events';
import { summariseBySegment } from '../features/features';
import type { RhoProbes } from '../features/quality';
import type { BetaChooser } from './betaChooser';
import type { PlannedJob } from './plan';
import { meanSe } from './stats';

/** What a final job contributes. */
export interface FinalResult {
  evalAccuracy: number;
  seconds: number;
  rho?: Float32Array;
  /** The raw-scale probe's test accuracy on ψ ⊙ ρ (fig. 6a). */
  rhoProbe?: RhoProbes;
}

interface Accumulated {
  /** Test accuracy by seed (as a string: summary.json's keys). */
  perSeed: Record<string, number>;
  seconds: number;
  /** Mean ρ per source, one record per seed, for methods that learn ρ. */
  rhoMeans?: Record<string, number>[];
  /** Raw-scale probe accuracy on ψ ⊙ ρ, one record per seed. */
  rhoProbes?: RhoProbes[];
  /** Final jobs still to come. */
  left: number;
}

export class MethodSummaries {
  private readonly acc = new Map<string, Accumulated>();
  private readonly done: Record<string, MethodSummary> = {};

  constructor(
    jobs: PlannedJob[],
    private readonly segments: Segment[],
    private readonly betas: BetaChooser,
  ) {
    for (const j of jobs.filter((j) => j.phase === 'final')) {
      const a = this.acc.get(j.method.name) ?? { perSeed: {}, seconds: 0, left: 0 };
      a.left++;
      this.acc.set(j.method.name, a);
    }
  }

  /** Adds a final job's result; returns the method's summary when it was its last final job. */
  add(job: PlannedJob, beta: number, result: FinalResult): MethodSummary | undefined {
    const name = job.method.name;
    const a = this.acc.get(name);
    if (!a) throw new Error(`${name} has no final jobs in the plan`);
    a.perSeed[String(job.seed)] = result.evalAccuracy;
    a.seconds += result.seconds;
    if (result.rho) {
      const bySource = summariseBySegment(result.rho, this.segments);
      (a.rhoMeans ??= []).push(Object.fromEntries(Object.entries(bySource).map(([k, v]) => [k, v.mean])));
    }
    if (result.rhoProbe) (a.rhoProbes ??= []).push(result.rhoProbe);
    if (--a.left > 0) return undefined;
    const rhoList = a.rhoMeans;
    const probes = a.rhoProbes && meanBySource(a.rhoProbes.map((p) => p.bySource));
    const concat = a.rhoProbes?.flatMap((p) => (p.concat !== undefined ? [p.concat] : []));
    const summary: MethodSummary = {
      kind: job.method.kind,
      test_accuracy: { ...meanSe(Object.values(a.perSeed)), per_seed: a.perSeed },
      // The last seed's β: with `tune.seeds: all` the seeds may differ (each is in `tuning`).
      beta,
      tuning: this.betas.tuningOf(name),
      ...(rhoList
        ? {
            rho_mean_by_source: Object.fromEntries(
              this.segments.map((s) => [s.name, rhoList.reduce((x, r) => x + r[s.name], 0) / rhoList.length]),
            ),
          }
        : {}),
      ...(probes && Object.keys(probes).length ? { raw_probe_rho_by_source: probes } : {}),
      ...(concat?.length ? { raw_probe_rho_concat: concat.reduce((x, v) => x + v, 0) / concat.length } : {}),
      train_seconds: a.seconds,
    };
    this.done[name] = summary;
    return summary;
  }

  /** The summaries of the methods whose jobs are all done, by method name. */
  all(): Record<string, MethodSummary> {
    return this.done;
  }
}

/** The mean of each source over the records that have it (a seed whose probe failed lacks it). */
function meanBySource(records: Record<string, number>[]): Record<string, number> {
  const names = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(
    names.map((n) => {
      const values = records.flatMap((r) => (r[n] !== undefined ? [r[n]] : []));
      return [n, values.reduce((x, v) => x + v, 0) / values.length];
    }),
  );
}
