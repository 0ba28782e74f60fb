/**
 * The extension ↔ sidecar JSON-RPC protocol (over stdio, `vscode-jsonrpc`). Both sides import
 * this module; every request and notification is declared once here, with who sends it.
 * Notifications carry the same `RunEvent`s the CLI prints with `--json`.
 *
 * This module must stay free of engine imports (only types): the extension bundle imports it.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { RunEvent, RunState, RunSummary } from './events';
import type { ErrorCode, SourceLocation } from '../util/errors';

/** The adapter limits that bound the largest tensor and the largest dispatch. */
export interface GpuLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
}

/** A WebGPU adapter as the sidecar found it (the Compute view and the logs show it). */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software rasteriser rather than a GPU; `softwareReason` says what gave it away. */
  software: boolean;
  softwareReason?: string;
  limits: GpuLimits;
}

export const PROTOCOL_VERSION = 3;

/** The compute backends a user can ask for (`auto` tries the registry in order). */
export type BackendChoice = 'auto' | 'gpu' | 'webgpu' | 'native' | 'wasm' | 'cpu';

/** A typed error that crosses the boundary as `{code, message, data}`; `kind` is what clients switch on. */
export interface ErrorData {
  kind: ErrorCode;
  location?: SourceLocation;
  details?: string[];
}

export interface BackendProbe {
  id: string;
  description: string;
  available: boolean;
  reason?: string;
  /** webgpu: the adapter it would run on. */
  adapter?: GpuAdapterInfo;
  /** Why `auto` passes over a backend that is available by name (a software WebGPU adapter). */
  notAuto?: string;
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
  /**
   * A study file: start a new study even when this file's last one is unfinished (a study is
   * otherwise continued, or refused with `location.field` = `study` when the file changed).
   */
  newStudy?: boolean;
}

export interface RunStarted {
  runId: string;
  runDir: string;
  /** A study file: the study's folder (its runs follow one another; `runId` is the first one's). */
  studyDir?: string;
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

/** What `aft/listRunChanges` answers: the rows to apply to the listing a client holds (core/common/runs/runListing.ts). */
export interface RunListingChanges {
  /** Pass it as `since` next time to get what changed after this answer. */
  cursor: string;
  /** `runs` is every run (a first call, or a cursor this sidecar does not know): replace what is held. */
  complete: boolean;
  /** Rows that appeared or changed, newest first. */
  runs: RunInfo[];
  /** Run ids no longer in the workspace. */
  removed: string[];
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

/** A pretrained student's peak-memory estimate against a backend (sidecar/src/memory/), as `aft validate --json` prints it. */
export interface MemoryEstimateData {
  /** `refuse`: the backend cannot hold it (also an error problem at `train.batch`); `warn`: it may not. */
  level: 'ok' | 'warn' | 'refuse';
  /** Tensor bytes at the peak, and the phase it is in (training step, optimizer update, evaluation). */
  tensorBytes: number;
  peakPhase: string;
  /** What makes up the peak, largest first. */
  parts: { name: string; bytes: number }[];
  /** The dataset and ψ held by the process, when known (0 before the data is read). */
  hostBytes: number;
  /** What is held against the limit, and the limit (absent where the backend says none). */
  needBytes: number;
  limitBytes?: number;
  limitName?: string;
  activationsCounted: boolean;
  /** The largest single activation tensor (what one WebGPU storage buffer must hold); 0 when not counted. */
  largestTensorBytes: number;
  /** The estimate in one line, as logs show it. */
  line: string;
}

export interface ValidateResult {
  /** The experiment's `name` when the file parsed. */
  name?: string;
  /** Method names in file order (what `RunParams.methods` accepts). */
  methods: string[];
  problems: ValidationProblem[];
  /** With a pretrained student whose folder could be read: its memory estimate against the file's backend. */
  memory?: MemoryEstimateData;
}

/** Shard `index` of `count` (0-based): every count-th cache chunk from index (as `aft extract --shard i/n`). */
export interface Shard {
  index: number;
  count: number;
}

export interface ExtractParams {
  /** Absolute path of the experiment file. */
  file: string;
  /** Where `.aft/cache/features/` is written. */
  workspaceDir: string;
  shard?: Shard;
  /** Backend for building the built-in teacher (the only source that needs tfjs). */
  backend?: BackendChoice;
  /**
   * The id its progress and log events carry as `runId`, and that `aft/cancel` accepts. The
   * caller chooses it so that it can cancel before the answer (which comes at the end); one is
   * made up when absent. Letters, digits, `-` and `_` only.
   */
  extractionId?: string;
}

/** One pre-trained source's cache entry after `aft/extract` (also the `--json` result line of `aft extract`). */
export interface ExtractEntry {
  source: string;
  /** The cache key (the entry's folder name). */
  key: string;
  dir: string;
  /** True when the complete entry was already there and is reused as it is. */
  cached: boolean;
  /** False only for a shard that left chunks for other shards to extract. */
  complete: boolean;
  chunks: { present: number; total: number };
  /** Examples extracted by this call (0 when cached) and how long that took. */
  extracted: number;
  seconds: number;
  itemsPerSecond: number | null;
  /** onnxruntime's execution provider, when this call extracted. */
  provider: string | null;
}

export interface ExtractResult {
  extractionId: string;
  /** `<workspaceDir>/.aft/cache/features`. */
  cacheRoot: string;
  /** One per onnx/builtin source, in file order (none when the experiment has no such source). */
  entries: ExtractEntry[];
}

export interface ExportParams {
  /** A run folder (`<workspace>/.aft/runs/<id>`) of a completed run. */
  runDir: string;
  /** A method of the run (its summary.json `methods`), and one of its seeds. */
  method: string;
  seed: number;
  /** Absolute path of the .onnx file to write. */
  out: string;
  /** Execution provider for the verification and the timings (default auto). */
  device?: 'auto' | 'cuda' | 'webgpu' | 'cpu';
}

/** One row of the inference-cost table. */
export interface ModelCost {
  name: string;
  kind: 'downstream' | 'pretrained';
  parameters: number | null;
  msPerExample: number;
}

/** What `aft/export` answers and `aft export --json` prints. */
export interface ExportReport {
  file: string;
  bytes: number;
  opset: number;
  method: string;
  seed: number;
  model: string;
  checkpoint: string;
  /** Parameters of the exported (small) model. */
  parameters: number;
  /** Logits of onnxruntime vs tfjs on the test split; the file is kept only if maxAbsDiff ≤ tolerance. */
  verification: { examples: number; maxAbsDiff: number; tolerance: number; provider: string };
  /** ms/example in onnxruntime: the exported model first, then each pre-trained ONNX model. */
  cost: { provider: string; batch: number; models: ModelCost[] };
}

/** extension → sidecar: versions, backends and devices; sets the run limit. */
export const Initialize = new RequestType<InitializeParams, InitializeResult, ErrorData>('aft/initialize');
/** extension → sidecar: check an experiment file without running it (no compute). */
export const Validate = new RequestType<{ file: string }, ValidateResult, ErrorData>('aft/validate');
/** extension → sidecar: start a run; answers once the run folder exists, events follow. */
export const StartRun = new RequestType<RunParams, RunStarted, ErrorData>('aft/run');
/**
 * extension → sidecar: cancel a run (the loop stops within one training step) or an extraction
 * (`runId` = its `extractionId`; it stops within one batch, and its request fails `cancelled`).
 * A run this sidecar does not train (one that outlived the window that started it) is stopped
 * through `runDir` (its folder's stop request), within a second and a training step.
 */
export const CancelRun = new RequestType<{ runId: string; runDir?: string }, { cancelled: boolean }, ErrorData>(
  'aft/cancel',
);
/** extension → sidecar: the runs of a workspace, newest first. */
export const ListRuns = new RequestType<{ workspaceDir: string }, RunInfo[], ErrorData>('aft/listRuns');
/**
 * extension → sidecar: the runs of a workspace that changed since the answer whose cursor is
 * `since` (every run without it): what a client that polls asks, instead of every row again.
 */
export const ListRunChanges = new RequestType<{ workspaceDir: string; since?: string }, RunListingChanges, ErrorData>(
  'aft/listRunChanges',
);
/**
 * extension → sidecar: compute and cache the pre-trained features of an experiment (no
 * training). Progress (items/s, ETA) and logs arrive as `aft/event`s whose `runId` is the
 * extraction id; the answer comes when every source is cached (or this shard is done).
 */
export const ExtractFeatures = new RequestType<ExtractParams, ExtractResult, ErrorData>('aft/extract');
/** extension → sidecar: export a trained model of a run to ONNX, verified against tfjs, with its inference cost. */
export const ExportModel = new RequestType<ExportParams, ExportReport, ErrorData>('aft/export');
/** extension → sidecar: cancel in-flight runs, wait for their stores to say so, and exit. */
export const Shutdown = new RequestType0<void, ErrorData>('aft/shutdown');
/** sidecar → extension: progress, metrics, ρ snapshots, logs, status and results of runs. */
export const RunEventNotification = new NotificationType<RunEvent>('aft/event');
