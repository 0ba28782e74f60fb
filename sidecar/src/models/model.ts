/**
 * Downstream models. Each exposes its features φ (the input of its linear head) next to its
 * logits, because every transfer method regularises φ.
 */
import type { DownstreamSpec } from '../../../core/node/experiment/schema';
import type { StTensor } from '../../../core/node/io/safetensors';
import type { Variable } from '../runtime/tf';
import { Rng } from '../util/rng';
import { mlpCnnTrunk, trunkModel } from './trunks';
import type { Dataset, PairedLayout } from '../data/dataset';
import type { DownstreamModel } from './downstream';
import { createPretrainedStudent } from './pretrained';
import { createTransformer } from './transformer';
import { createTwoTower } from './twoTower';

/** What a model needs of its data besides the input shape: a text dataset's vocabulary, a paired dataset's row layout. */
export interface ModelInputs {
  vocabSize?: number;
  paired?: PairedLayout;
}

export function modelInputs(ds: Pick<Dataset, 'vocabSize' | 'paired'>): ModelInputs {
  return { vocabSize: ds.vocabSize, paired: ds.paired?.layout };
}

/**
 * `inputs.vocabSize` is needed by the transformer (text datasets), `inputs.paired` by the
 * two-tower model (paired datasets); a `pretrained` student reads `spec.folder` (absolute) and
 * says on `log` what it converted.
 */
export function createModel(
  spec: DownstreamSpec,
  inputShape: number[],
  numClasses: number,
  seed: number,
  inputs: ModelInputs = {},
  log?: (m: string) => void,
): DownstreamModel {
  if (spec.model === 'transformer') return createTransformer(spec, inputShape, numClasses, seed, inputs.vocabSize);
  if (spec.model === 'pretrained')
    return createPretrainedStudent(spec, inputShape, numClasses, seed, log, inputs.vocabSize);
  if (spec.model === 'two-tower') return createTwoTower(spec, inputShape, numClasses, seed, inputs);
  const rng = new Rng(seed);
  const params = new Map<string, Variable>();
  const trunk = mlpCnnTrunk(
    { model: spec.model, channels: spec.channels, hidden: spec.hidden },
    inputShape,
    rng,
    params,
    '',
    'downstream',
  );
  return trunkModel(spec.model, trunk, params, rng, numClasses);
}

/**
 * Parameters (and buffers, such as BatchNorm's running statistics) as plain arrays, for
 * checkpoints and export (read asynchronously, as webgpu needs).
 */
export async function modelWeights(model: DownstreamModel): Promise<Record<string, StTensor>> {
  const out: Record<string, StTensor> = {};
  for (const [k, v] of model.params) out[k] = { shape: v.shape, data: (await v.data()) as Float32Array };
  for (const [k, v] of model.buffers ?? []) out[k] = { shape: v.shape, data: (await v.data()) as Float32Array };
  return out;
}
