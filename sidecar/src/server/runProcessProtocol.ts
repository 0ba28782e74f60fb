/**
 * The messages between the sidecar and a run process (runProcess.ts), over Node's IPC channel
 * with structured-clone serialisation: the sidecar starts and cancels, the run process reports
 * every run event and then how the run ended.
 */
import type { RunEvent } from '../../../core/common/protocol/events';
import type { ErrorCode, SourceLocation } from '../../../core/common/util/errors';
import type { ExpandedStudy } from '../../../core/node/experiment/validate';
import type { Experiment } from '../../../core/node/experiment/schema';
import type { Overrides } from '../../../core/node/experiment/overrides';

/** What the run process trains: the experiment as the sidecar loaded and checked it. */
export interface RunRequest {
  type: 'start';
  /** Absolute path of the experiment file. */
  file: string;
  experiment: Experiment;
  baseDir: string;
  sourceText: string;
  /** A study file: its values run one after another in this process. */
  study?: ExpandedStudy;
  newStudy: boolean;
  workspaceDir: string;
  /** The request's overrides, checked by the sidecar (core/node/experiment/overrides.ts). */
  overrides: Overrides;
}

export type ToRunProcess = RunRequest | { type: 'cancel' };

/** An error as it crosses the channel: an AftError keeps its code, location and details. */
export type SentError =
  | { kind: 'aft'; code: ErrorCode; message: string; location?: SourceLocation; details?: string[] }
  | { kind: 'other'; message: string; stack?: string };

export type FromRunProcess =
  { type: 'event'; event: RunEvent } | { type: 'done' } | { type: 'error'; error: SentError };
