/**
 * The ONNX file of a pretrained student of any family (models/students/registry.ts): the
 * family's graph, with metadata saying how to prepare its inputs (the student's
 * `pretrained_cfg`), and its parameter count.
 */
import type { HubFolder } from '../models/pretrained';
import type { StudentFamily, StudentShape } from '../models/students/family';
import { EXPORT_FORMAT_VERSION, EXPORT_PRODUCER } from './downstream';

/** Parameters of the state dict, as torch counts them (sum of p.numel(): buffers and counters left out). */
export function studentParameterCount<S extends StudentShape>(family: StudentFamily<S>, shape: S): number {
  return family
    .stateShapes(shape)
    .filter((e) => e.kind === 'param')
    .reduce((a, e) => a + e.shape.reduce((p, q) => p * q, 1), 0);
}

/** The model file's bytes; its metadata says how to prepare images (the student's `pretrained_cfg`). */
export function exportStudent(
  hub: Pick<HubFolder, 'state' | 'shape' | 'config' | 'family'>,
  inputShape: number[],
  props: Record<string, string> = {},
): Uint8Array {
  const pc = hub.config.pretrained_cfg ?? {};
  const prep = Object.fromEntries(
    (['input_size', 'mean', 'std', 'interpolation', 'crop_pct'] as const)
      .filter((k) => pc[k] !== undefined)
      .map((k) => [k, pc[k]]),
  );
  return hub.family.onnx(hub.state, hub.shape, inputShape).encode({
    producer: EXPORT_PRODUCER,
    version: String(EXPORT_FORMAT_VERSION),
    doc: `AFT Studio ${hub.shape.arch} student: input [N, ${inputShape.join(', ')}] (images NHWC, prepared as pretrained_cfg says: resized, scaled to [0, 1], normalised by mean and std); outputs logits and features (φ).`,
    props: {
      ...props,
      input_shape: JSON.stringify(inputShape),
      kind: hub.shape.arch,
      family: hub.family.name,
      pretrained_cfg: JSON.stringify(prep),
    },
  });
}
