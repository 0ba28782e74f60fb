/**
 * The ONNX file of a pretrained student of any family (models/students/registry.ts): the
 * family's graph, with metadata saying how to prepare its inputs (the student's
 * `pretrained_cfg`, or its tokenizer), and its parameter count.
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

/**
 * The model file's bytes; its metadata says how to prepare the inputs: images as the student's
 * `pretrained_cfg` says, texts with the tokenizer.json of the student's folder.
 */
export function exportStudent(
  hub: Pick<HubFolder, 'state' | 'shape' | 'config' | 'family'>,
  inputShape: number[],
  props: Record<string, string> = {},
): Uint8Array {
  const input = hub.family.input(hub.shape);
  const graph = hub.family.onnx(hub.state, hub.shape, inputShape);
  const meta = { producer: EXPORT_PRODUCER, version: String(EXPORT_FORMAT_VERSION) };
  const common = { ...props, kind: hub.shape.arch, family: hub.family.name };
  if (input.kind === 'tokens')
    return graph.encode({
      ...meta,
      doc: `AFT Studio ${hub.shape.arch} student: inputs input_ids and attention_mask, int64 [N, T] (T at most ${input.maxLength}), from the ${input.tokenizer} saved with it; outputs logits and features (φ: the first token's last hidden state).`,
      props: { ...common, pad_token_id: String(input.padId), max_length: String(input.maxLength) },
    });
  const pc = hub.config.pretrained_cfg ?? {};
  const prep = Object.fromEntries(
    (['input_size', 'mean', 'std', 'interpolation', 'crop_pct'] as const)
      .filter((k) => pc[k] !== undefined)
      .map((k) => [k, pc[k]]),
  );
  return graph.encode({
    ...meta,
    doc: `AFT Studio ${hub.shape.arch} student: input [N, ${inputShape.join(', ')}] (images NHWC, prepared as pretrained_cfg says: resized, scaled to [0, 1], normalised by mean and std); outputs logits and features (φ).`,
    props: { ...common, input_shape: JSON.stringify(inputShape), pretrained_cfg: JSON.stringify(prep) },
  });
}
