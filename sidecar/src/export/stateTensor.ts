import type { StTensor } from '../../../core/node/io/safetensors';
import { badInput } from '../../../core/common/util/errors';

/** A tensor of a student's state dict as float32, checked against the shape its architecture expects. */
export function stateTensor(state: Record<string, StTensor>, key: string, shape: number[]): Float32Array {
  const t = state[key];
  if (!t) throw badInput(`the checkpoint has no tensor '${key}'`);
  if (t.shape.join('x') !== shape.join('x'))
    throw badInput(`tensor '${key}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
}
