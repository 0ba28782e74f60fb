/**
 * The extension ↔ sidecar JSON-RPC protocol (over stdio, `vscode-jsonrpc`). Both sides import
 * this module; every request and notification is declared once here, with who sends it.
 * Notifications carry the same `RunEvent`s the CLI prints with `--json`.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { BackendChoice } from '../runtime/tf';
import type { RunEvent, RunState, RunSummary } from './events';

export const PROTOCOL_VERSION = 1;

/** A typed error that crosses the boundary as `{code, message, data}`. */
export interface ErrorData {
  kind: 'bad_input' | 'run_failed' | 'cancelled' | 'internal' | 'busy';
  location?: { file: string; line?: number; column?: number; field?: string };
  details?: string[];
}

export interface BackendProbe {
  id: string;
  description: string;
  available: boolean;
  reason?: string;
}

export interface InitializeResult {
  protocolVersion: number;
  sidecarVersion: string;
  node: string;
  platform: string;
  backends: BackendProbe[];
  /** The backend `auto` would pick now. */
  defaultBackend: string | null;
}

export interface RunParams {
  /** Absolute path of the experiment file. */
  file: string;
  /** Where `.aft/runs/` is written. */
  workspaceDir: string;
  backend?: BackendChoice;
  seeds?: number[];
  steps?: number;
  methods?: string[];
}

export interface RunStarted {
  runId: string;
  runDir: string;
}

export interface RunInfo {
  runId: string;
  runDir: string;
  experiment: string;
  state: RunState;
  message?: string;
  started: string;
  progress?: { fraction: number; label: string; etaSeconds: number | null };
  summary?: RunSummary;
}

/** extension → sidecar: versions and what compute backends can load. */
export const Initialize = new RequestType0<InitializeResult, ErrorData>('aft/initialize');
/** extension → sidecar: start a run; answers once the run folder exists, events follow. */
export const StartRun = new RequestType<RunParams, RunStarted, ErrorData>('aft/run');
/** extension → sidecar: cancel a run; the loop stops within one training step. */
export const CancelRun = new RequestType<{ runId: string }, { cancelled: boolean }, ErrorData>('aft/cancel');
/** extension → sidecar: the runs of a workspace, newest first. */
export const ListRuns = new RequestType<{ workspaceDir: string }, RunInfo[], ErrorData>('aft/listRuns');
/** extension → sidecar: finish in-flight work and exit. */
export const Shutdown = new RequestType0<void, ErrorData>('aft/shutdown');
/** sidecar → extension: progress, metrics, ρ snapshots, logs, status and results of runs. */
export const RunEventNotification = new NotificationType<RunEvent>('aft/event');
