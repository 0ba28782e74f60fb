/**
 * The extension ↔ sidecar JSON-RPC protocol (over stdio, `vscode-jsonrpc`). Both sides import
 * this module; every request and notification is declared once here, with who sends it.
 * Notifications carry the same `RunEvent`s the CLI prints with `--json`.
 *
 * This module must stay free of engine imports (only types): the extension bundle imports it.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { RunEvent, RunState, RunSummary } from './events';

export const PROTOCOL_VERSION = 2;

/** The compute backends a user can ask for (`auto` tries the registry in order). */
export type BackendChoice = 'auto' | 'gpu' | 'native' | 'wasm' | 'cpu';

/** A typed error that crosses the boundary as `{code, message, data}`. */
export interface ErrorData {
  /**
   * bad_input: the request or the experiment file is wrong (details say where);
   * busy: the run limit is reached or that file is already running;
   * not_available: this version of the sidecar cannot do that yet.
   */
  kind: 'bad_input' | 'run_failed' | 'cancelled' | 'internal' | 'busy' | 'not_available';
  location?: { file: string; line?: number; column?: number; field?: string };
  details?: string[];
}

/** JSON-RPC error codes used with `ErrorData.kind` (the kind is what clients switch on). */
export const ErrorCodes = { internal: 1, bad_input: 2, busy: 3, not_available: 4 } as const;

export interface BackendProbe {
  id: string;
  description: string;
  available: boolean;
  reason?: string;
}

export interface DeviceInfo {
  kind: 'cpu' | 'gpu';
  name: string;
  /** Logical cores (CPU). */
  cores?: number;
  /** Total memory in MiB (host memory for the CPU, device memory for a GPU). */
  memoryMiB?: number;
}

export interface InitializeParams {
  /** How many runs the sidecar may train at once (`aft.maxConcurrentRuns`). */
  maxConcurrentRuns: number;
  /** Only log events at this level or above are forwarded. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** What this sidecar can do; requests for a missing capability fail with `not_available`. */
export interface Capabilities {
  run: boolean;
  extract: boolean;
  export: boolean;
}

export interface InitializeResult {
  protocolVersion: number;
  sidecarVersion: string;
  /** The sidecar's process id (shown in the Compute view, used by tests to kill it). */
  pid: number;
  node: string;
  platform: string;
  versions: Record<string, string>;
  backends: BackendProbe[];
  /** The backend `auto` would pick now. */
  defaultBackend: string | null;
  devices: DeviceInfo[];
  capabilities: Capabilities;
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

export interface ValidationProblem {
  message: string;
  field: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: 'error' | 'warning';
}

export interface ValidateResult {
  /** The experiment's `name` when the file parsed. */
  name?: string;
  /** Method names in file order (what `RunParams.methods` accepts). */
  methods: string[];
  problems: ValidationProblem[];
}

export interface ExtractParams {
  file: string;
  workspaceDir: string;
}

export interface ExportParams {
  runDir: string;
  method: string;
  seed: number;
  out: string;
}

/** extension → sidecar: versions, backends, devices and capabilities; sets the run limit. */
export const Initialize = new RequestType<InitializeParams, InitializeResult, ErrorData>('aft/initialize');
/** extension → sidecar: check an experiment file without running it (no compute). */
export const Validate = new RequestType<{ file: string }, ValidateResult, ErrorData>('aft/validate');
/** extension → sidecar: start a run; answers once the run folder exists, events follow. */
export const StartRun = new RequestType<RunParams, RunStarted, ErrorData>('aft/run');
/** extension → sidecar: cancel a run; the loop stops within one training step. */
export const CancelRun = new RequestType<{ runId: string }, { cancelled: boolean }, ErrorData>('aft/cancel');
/** extension → sidecar: the runs of a workspace, newest first. */
export const ListRuns = new RequestType<{ workspaceDir: string }, RunInfo[], ErrorData>('aft/listRuns');
/** extension → sidecar: compute and cache the pre-trained features of an experiment. */
export const ExtractFeatures = new RequestType<ExtractParams, { cacheDir: string }, ErrorData>('aft/extract');
/** extension → sidecar: export a trained model of a run to ONNX. */
export const ExportModel = new RequestType<ExportParams, { file: string }, ErrorData>('aft/export');
/** extension → sidecar: cancel in-flight runs, wait for their stores to say so, and exit. */
export const Shutdown = new RequestType0<void, ErrorData>('aft/shutdown');
/** sidecar → extension: progress, metrics, ρ snapshots, logs, status and results of runs. */
export const RunEventNotification = new NotificationType<RunEvent>('aft/event');
