/**
 * Saves a reported (final) job's trained model in the run store (`checkpoints/`, read by
 * `aft export` and by `downstream.init`). Its safetensors header names the method, seed, β and
 * model, so that the file says what it is once copied out of its run. Tune jobs' models are
 * not saved: they only choose β.
 */
import type { RunStore } from '../../../core/node/runs/store';
import type { DownstreamModel } from '../models/downstream';
import { modelWeights } from '../models/model';
import type { PlannedJob } from './plan';

export async function saveCheckpoint(store: RunStore, job: PlannedJob, beta: number, model: DownstreamModel, modelKind: string): Promise<void> {
  store.writeCheckpoint(job.method.name, job.seed, await modelWeights(model), { method: job.method.name, seed: String(job.seed), beta: String(beta), model: modelKind });
}
