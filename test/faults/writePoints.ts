/**
 * The write points of the run store and the caches, one row each: what the disk fault suite
 * (disk.test.ts) breaks with every fault. To cover a new file, add one row.
 *
 * - `match`: a regular expression on the written file's path ('/' separators); the `nth` write
 *   (1-based) of this process whose path matches is the one the fault hits
 *   (core/node/util/faults.ts says how).
 * - `survives`: the faults under which the run must still complete: the file is derived data
 *   (losing it costs readers only speed), or the write needs no new space (the final status goes
 *   into space reserved when the run started).
 * - `optional`: the error may name another file: this write failing is not itself fatal (a run
 *   that fails afterwards names a later file, the disk being still full or read-only), or the
 *   write is reported under its final name (the final status, written through its reserve).
 */
import type { FaultAction } from '../../core/node/util/faults';
import type { WorkspaceKind } from './harness';

export interface WritePoint {
  name: string;
  workspace: WorkspaceKind;
  match: string;
  nth: number;
  survives?: FaultAction[];
  optional?: boolean;
}

const run = String.raw`/\.aft/runs/[^/]+/`;
const entry = String.raw`/\.aft/cache/features/[0-9a-f]+/`;
const study = String.raw`/\.aft/runs/[^/]+/`;
const studyRun = String.raw`/\.aft/runs/[^/]+/runs/[^/]+/`;

// prettier-ignore
export const WRITE_POINTS: WritePoint[] = [
  { name: 'status.json (create)',                      workspace: 'store',   match: `${run}status\\.json$`, nth: 1 },
  { name: 'experiment.json (create)',                  workspace: 'store',   match: `${run}experiment\\.json$`, nth: 1 },
  { name: 'status.json (heartbeat)',                   workspace: 'store',   match: `${run}status\\.json$`, nth: 2 },
  { name: 'run.log (append)',                          workspace: 'store',   match: `${run}run\\.log$`, nth: 1 },
  { name: 'metrics.jsonl (append)',                    workspace: 'store',   match: `${run}metrics\\.jsonl$`, nth: 1 },
  { name: 'rho/<method>/seed-<s>.json',                workspace: 'store',   match: `${run}rho/[^/]+/seed-\\d+\\.json$`, nth: 1 },
  { name: 'checkpoints/<method>-seed-<s>.safetensors', workspace: 'store',   match: `${run}checkpoints/[^/]+\\.safetensors$`, nth: 1 },
  { name: 'summary.json',                              workspace: 'store',   match: `${run}summary\\.json$`, nth: 1 },
  { name: 'metrics.cols (derived)',                    workspace: 'store',   match: `${run}metrics\\.cols$`, nth: 1, survives: ['full', 'free'], optional: true },
  { name: 'metrics.view.json (derived)',               workspace: 'store',   match: `${run}metrics\\.view\\.json$`, nth: 1, survives: ['full', 'free'], optional: true },
  { name: 'status.json (final, from its reserve)',     workspace: 'store',   match: `${run}status\\.json\\.tmp-[^/]+-reserve$`, nth: 2, survives: ['full', 'free'], optional: true },
  { name: 'study.json (create)',                       workspace: 'study',   match: `${study}study\\.json$`, nth: 1 },
  { name: 'experiment.source.yaml (study, create)',    workspace: 'study',   match: `${study}experiment\\.source\\.yaml$`, nth: 1 },
  { name: "the study's second run: experiment.json",   workspace: 'study',   match: `${studyRun}experiment\\.json$`, nth: 2 },
  { name: "the study's second run: summary.json",      workspace: 'study',   match: `${studyRun}summary\\.json$`, nth: 2 },
  { name: 'model-hashes/<sha1>.json (memo)',           workspace: 'cache',   match: String.raw`/model-hashes/[^/]+\.json$`, nth: 1, survives: ['free'], optional: true },
  { name: 'plan.json',                                 workspace: 'cache',   match: `${entry}plan\\.json$`, nth: 1 },
  { name: 'chunks/<start>-<end>.safetensors (2nd)',    workspace: 'cache',   match: `${entry}chunks/\\d+-\\d+\\.safetensors$`, nth: 2 },
  { name: 'features.safetensors',                      workspace: 'cache',   match: `${entry}features\\.safetensors$`, nth: 1 },
  { name: 'meta.json',                                 workspace: 'cache',   match: `${entry}meta\\.json$`, nth: 1 },
  { name: 'teachers/<version>.safetensors',            workspace: 'teacher', match: String.raw`/teachers/[^/]+\.safetensors$`, nth: 1 },
  { name: 'teachers/<version>.safetensors.json',       workspace: 'teacher', match: String.raw`/teachers/[^/]+\.safetensors\.json$`, nth: 1 },
  { name: 'teachers/<version>.export-v1.onnx',         workspace: 'teacher', match: String.raw`/teachers/[^/]+\.onnx$`, nth: 1 },
];

/** The faults every write point meets (core/node/util/faults.ts): full disk, space freed right after, kill -9, read-only. */
export const FAULTS: FaultAction[] = ['full', 'free', 'kill', 'ro'];
