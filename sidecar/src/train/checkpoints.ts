/**
 * Saves a reported (final) job's trained model in the run store (`checkpoints/`, read by
 * `aft export` and by `downstream.init`). Its safetensors header names the method, seed, β and
 * model, so that the file says what it is once copied out of its run. A pretrained student is
 * saved as a folder in its hub layout (config.json + model.safetensors), which timm and
 * torchvision load and `downstream.folder` accepts. Tune jobs' models are not saved: they only
 * choose β.
 */
import type { RunOutputs } from '../../../core/node/runs/store';
import type { DownstreamModel } from '../models/downstream';
import { modelWeights } from '../models/model';
import { hubFiles, isPretrainedStudent } from '../models/pretrained';
import type { PlannedJob } from './plan';

export async function saveCheckpoint(
  store: RunOutputs,
  job: PlannedJob,
  beta: number,
  model: DownstreamModel,
  modelKind: string,
): Promise<void> {
  const meta = { method: job.method.name, seed: String(job.seed), beta: String(beta), model: modelKind };
  if (isPretrainedStudent(model)) store.writeCheckpointFolder(job.method.name, job.seed, await hubFiles(model, meta));
  else store.writeCheckpoint(job.method.name, job.seed, await modelWeights(model), meta);
}
