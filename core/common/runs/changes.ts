/**
 * What a read of a run folder found new (`RunReader.poll` in core/node/runs/reader.ts): the
 * host's run model (core/common/view/runAccumulator.ts) takes these in, without reading files.
 */
import type { RunSummary } from '../protocol/events';
import type { CurveSeries } from './curves';
import type { SeriesData } from './curveViews';
import type { MetricsRow, RhoFile, RunStatus } from './records';

export interface RunChanges {
  /**
   * metrics.jsonl was replaced (it shrank): forget the rows and series read before; what follows
   * is the new file's.
   */
  reset?: boolean;
  /** Whole series from the column cache (metrics.cols): the file's first lines, already parsed. */
  series?: CurveSeries[];
  /**
   * Every series already downsampled (metrics.view.json, a finished run's; only when the reader
   * was asked for views of that many points): the whole file, in place of `series` and `rows`.
   */
  views?: SeriesData[];
  /** Rows appended to metrics.jsonl since the last poll (after those in `series`). */
  rows: MetricsRow[];
  /** ρ files that appeared or changed. */
  rho: RhoFile[];
  status?: RunStatus;
  summary?: RunSummary;
  /** Lines or files that could not be used, with where and why (shown in the log, not fatal). */
  problems: string[];
  /** metrics.jsonl has more than one poll reads: poll again soon. */
  more: boolean;
}
