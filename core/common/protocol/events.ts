/**
 * Events a run emits while it works. The CLI prints them (or writes one JSON object per line
 * with `--json`), the JSON-RPC server forwards them to the extension as notifications, and
 * the run store persists the ones that matter later. One set of types for all three.
 */

export type RunState = 'running' | 'completed' | 'failed' | 'cancelled';

/** Where a run is in its plan (one "job" is one training of one method/seed/β). */
export interface ProgressEvent {
  type: 'progress';
  runId: string;
  /** What is being done, e.g. "aft seed 1 (β=10, tuning)" or "building mnist-teacher". */
  label: string;
  /** Steps done / total in the current job. */
  step: number;
  steps: number;
  /** Jobs done / total in the run. */
  job: number;
  jobs: number;
  /** Fraction of the whole run done, 0..1, weighted by steps. */
  fraction: number;
  /** Seconds left for the whole run, estimated from the measured speed; null until known. */
  etaSeconds: number | null;
  /** Examples per second while features are extracted (then `step`/`steps` count examples). */
  itemsPerSecond?: number;
  /** Where the whole study is, when this run is one value of a study. */
  study?: StudyProgress;
}

/** Which value of which study a run is (each value of a study is one run in the study's folder). */
export interface StudyPosition {
  studyId: string;
  studyDir: string;
  /** The value (0-based) and how many the study has. */
  value: number;
  values: number;
  label: string;
}

/** A study's progress over all its values. */
export interface StudyProgress extends StudyPosition {
  /** Fraction of the whole study done, 0..1 (values already done count whole). */
  fraction: number;
  /** Seconds left for the whole study: this run's ETA plus the values after it at the measured time per value. */
  etaSeconds: number | null;
}

/** What one evaluation of a training job measures (the training loop fills it in). */
export interface EvalNumbers {
  step: number;
  epoch: number;
  ce: number;
  reg: number;
  loss: number;
  trainAccuracy: number;
  /** Accuracy on the test split (final phase) or on the holdout (tune phase). */
  evalAccuracy: number;
  lr: number;
}

/** ρ summarised per source segment. */
export type RhoBySource = Record<string, { mean: number; min: number; max: number }>;

/** One evaluation point of one job (also a line of metrics.jsonl). */
export interface MetricsEvent extends EvalNumbers {
  type: 'metrics';
  runId: string;
  method: string;
  seed: number;
  beta: number;
  /** `tune` while β is being chosen on the holdout, `final` for the reported training. */
  phase: 'tune' | 'final';
  /** Learned ρ summarised per source segment, for methods that learn ρ. */
  rho?: RhoBySource;
  timestamp: number;
}

/** The full learned ρ vector at a point in training, with its source segments. */
export interface RhoEvent {
  type: 'rho';
  runId: string;
  method: string;
  seed: number;
  step: number;
  segments: Segment[];
  values: number[];
}

export interface Segment {
  name: string;
  offset: number;
  width: number;
}

export interface LogEvent {
  type: 'log';
  runId?: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  timestamp: number;
}

export interface StatusEvent {
  type: 'status';
  runId: string;
  state: RunState;
  /** The run's folder. */
  runDir: string;
  message?: string;
  /** The run stopped on bad input before training anything, and its folder was removed. */
  removed?: true;
  /** When this run is one value of a study. */
  study?: StudyPosition;
}

/** A method's final result, emitted when all its seeds are done. */
export interface ResultEvent {
  type: 'result';
  runId: string;
  method: string;
  result: MethodSummary;
}

export type RunEvent = ProgressEvent | MetricsEvent | RhoEvent | LogEvent | StatusEvent | ResultEvent;

export type EventSink = (e: RunEvent) => void;

/** Per-method results in summary.json. */
export interface MethodSummary {
  kind: string;
  test_accuracy: { mean: number; se: number; per_seed: Record<string, number> };
  /** The β used for the reported runs (0 for stl). */
  beta: number;
  /** β chosen per seed when tuning per seed, and the holdout accuracy of each candidate. */
  tuning: { seed: number; candidates: { beta: number; holdout_accuracy: number }[]; chosen: number }[];
  rho_mean_by_source?: Record<string, number>;
  /**
   * Test accuracy of logistic regression on each source's raw features weighted by the ρ this
   * method learned, ψ ⊙ ρ (mean over seeds; paper fig. 6a): compare with the source's
   * `raw_probe_accuracy`. Only for methods that learn a ρ per feature.
   */
  raw_probe_rho_by_source?: Record<string, number>;
  /** The same on all sources concatenated, ψ ⊙ ρ (with 2 sources or more; compare `raw_probe_concat`). */
  raw_probe_rho_concat?: number;
  train_seconds: number;
}

export interface SourceSummary {
  name: string;
  kind: string;
  width: number;
  /** Linear-probe test accuracy of this source's features. */
  linear_probe_accuracy?: number;
  /**
   * Test accuracy of logistic regression on this source's raw features: no standardisation, one
   * fixed penalty (scikit-learn's C = 1), so unlike the linear probe it sees feature scales.
   */
  raw_probe_accuracy?: number;
  /** LogME score (mean log-evidence per example) of this source's training features. */
  logme_score?: number;
  /** Why there is no linear-probe accuracy or LogME score (degenerate features or labels). */
  linear_probe_error?: string;
  logme_error?: string;
}

export interface RunSummary {
  format: 'aft-run-summary';
  version: 1;
  runId: string;
  experiment: string;
  dataset: { name: string; train: number; test: number; classes: number; inputShape: number[] };
  backend: string;
  sources: SourceSummary[];
  /** Linear-probe test accuracy of all sources concatenated. */
  linear_probe_concat?: number;
  /** Raw-scale probe (`SourceSummary.raw_probe_accuracy`) of all sources concatenated. */
  raw_probe_concat?: number;
  methods: Record<string, MethodSummary>;
  /** The built-in teacher, when the experiment uses it. */
  teacher?: { validation_accuracy: number; built_seconds: number; file: string };
  started: string;
  finished: string;
  seconds: number;
}
