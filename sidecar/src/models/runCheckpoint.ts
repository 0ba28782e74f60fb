/**
 * A trained model of a run: its resolved experiment and the checkpoint of a method and seed
 * (`checkpoints/<method>-seed-<seed>.safetensors`, or a pretrained student's hub folder
 * `checkpoints/<method>-seed-<seed>/`). Shared by `aft export` and `aft predict`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { experimentSchema, type Experiment } from '../../../core/node/experiment/schema';
import { MAX_EXPERIMENT_BYTES, readUserJson } from '../../../core/node/io/userFile';
import { badInput } from '../../../core/common/util/errors';
import { isTempName } from '../../../core/node/util/fsx';

/** A run's resolved experiment (experiment.json), checked against this version's schema. */
export function readRunExperiment(runDir: string): Experiment {
  const file = path.join(runDir, 'experiment.json');
  if (!fs.existsSync(file)) throw badInput('not a run folder (no experiment.json)', { file: runDir });
  const parsed = experimentSchema.safeParse(
    readUserJson(file, { what: "the run's experiment.json", maxBytes: MAX_EXPERIMENT_BYTES }),
  );
  if (!parsed.success)
    throw badInput(
      `the run's experiment.json does not match this version of aft: ${parsed.error.issues[0]?.message ?? ''}`,
      { file },
    );
  return parsed.data;
}

/**
 * The checkpoint to export: `checkpoints/<method>-seed-<seed>.safetensors`, or for a pretrained
 * student the hub folder `checkpoints/<method>-seed-<seed>/`.
 */
export function pickCheckpoint(
  runDir: string,
  exp: Experiment,
  method?: string,
  seed?: number,
): { file: string; method: string; seed: number } {
  const dir = path.join(runDir, 'checkpoints');
  const folders = exp.downstream.model === 'pretrained';
  const have = fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) =>
          folders
            ? e.isDirectory() && !isTempName(e.name) && fs.existsSync(path.join(dir, e.name, 'model.safetensors'))
            : e.isFile() && e.name.endsWith('.safetensors'),
        )
        .map((e) => e.name)
    : [];
  const names = have.map((f) => f.replace(/\.safetensors$/, '')).sort();
  const m = method ?? (names.some((n) => n.startsWith('aft-seed-')) ? 'aft' : names[0]?.replace(/-seed-\d+$/, ''));
  const s = seed ?? exp.seeds[0] ?? 0;
  // Only names the run has (never a path built from the request: `../x` must not reach the disk).
  if (m === undefined || !names.includes(`${m}-seed-${s}`)) {
    const field = m !== undefined && names.some((n) => n.replace(/-seed-\d+$/, '') === m) ? 'seed' : 'method';
    throw badInput(
      `no checkpoint for ${m ?? 'any method'} seed ${s}; this run has: ${names.join(', ') || 'none (did it complete?)'}`,
      { file: runDir, field },
    );
  }
  return { file: path.join(dir, folders ? `${m}-seed-${s}` : `${m}-seed-${s}.safetensors`), method: m, seed: s };
}
