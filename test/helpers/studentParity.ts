/**
 * A pretrained student against its PyTorch reference (test/fixtures/students/make_*.py):
 * eval-mode logits and φ, one cross-entropy training step's logits, loss and the gradient of
 * every parameter, and (for BatchNorm) the buffers after it, each as the worst relative error.
 * Tensors are read with await data(), as the engine reads them (webgpu cannot read synchronously).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, type StTensor } from '../../core/node/io/safetensors';
import { AftError } from '../../core/common/util/errors';
import { crossEntropy } from '../../sidecar/src/methods/regularizers';
import type { StudentModel } from '../../sidecar/src/models/students/family';
import { hwioToOihw } from '../../sidecar/src/models/stateDict';
import { tf, type Tensor } from '../../sidecar/src/runtime/tf';
import { relErr } from './numeric';

/** NCHW reference input → NHWC tensor. */
export const nhwc = (t: StTensor): Tensor => tf.transpose(tf.tensor(t.data, t.shape), [0, 2, 3, 1]);

export interface ParityErrors {
  errs: Record<string, number>;
  /** The parameter whose gradient is worst, and the buffer whose value after the step is worst. */
  worstGrad: string;
  worstStat: string;
}

/** Token ids and attention mask → the engine's text input: ids as floats, -1 where masked. */
export const tokenInput = (ref: Record<string, StTensor>): Tensor =>
  tf.tensor(
    Float32Array.from(ref.input_ids.data, (id, i) => (ref.attention_mask.data[i] ? id : -1)),
    ref.input_ids.shape,
  );

/** `input` turns the reference's input into the engine's (default: images NCHW → NHWC). */
export async function parityErrors(
  model: StudentModel,
  ref: Record<string, StTensor>,
  input: (ref: Record<string, StTensor>) => Tensor = (r) => nhwc(r.input),
): Promise<ParityErrors> {
  const errs: Record<string, number> = {};
  const evalOut = tf.tidy(() => {
    const out = model.forward(input(ref));
    return [out.logits, out.phi];
  });
  errs.logits = relErr(await evalOut[0].data(), ref['eval.logits'].data);
  errs.phi = relErr(await evalOut[1].data(), ref['eval.features'].data);
  tf.dispose(evalOut);
  const params = [...model.params.values()];
  const x = input(ref);
  const y = tf.tensor1d(Array.from(ref.labels.data), 'int32');
  let trainLogits: Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward(x, 'train');
    trainLogits = tf.keep(out.logits.clone());
    return crossEntropy(out.logits, y);
  }, params);
  errs.train_logits = relErr(await trainLogits!.data(), ref['train.logits'].data);
  errs.loss = relErr(await value.data(), ref['train.loss'].data);
  let worstGrad = '';
  errs.gradients = 0;
  // A gradient that is 0 in exact arithmetic is rounding noise in PyTorch (a Mixer's token-MLP
  // fc2 bias shifts each token by a constant over channels, which every later LayerNorm removes:
  // ~1e-8): errors are relative to the larger of the tensor's largest value and 1e-3 × the model's largest gradient.
  const largest = Math.max(
    ...[...model.params.keys()].map((k) => Math.max(...Array.from(ref[`grad.${k}`].data, Math.abs))),
  );
  for (const [k, v] of model.params) {
    const g = grads[v.name];
    const got = (await g.data()) as Float32Array;
    // Kernels are HWIO here, OIHW in PyTorch; every other tensor has PyTorch's shape.
    const data = g.shape.length === 4 ? hwioToOihw(got, g.shape).data : got;
    const want = ref[`grad.${k}`].data;
    const scale = Math.max(...Array.from(want, Math.abs));
    const e = (relErr(data, want) * (scale || 1)) / Math.max(scale, largest * 1e-3);
    if (e > errs.gradients) [errs.gradients, worstGrad] = [e, k];
  }
  tf.dispose([x, y, trainLogits!, value, ...Object.values(grads)]);
  let worstStat = '';
  if (model.buffers?.size) {
    errs.running_stats = 0;
    for (const [k, v] of model.buffers) {
      const e = relErr(await v.data(), ref[`after.${k}`].data);
      if (e > errs.running_stats) [errs.running_stats, worstStat] = [e, k];
    }
  }
  return { errs, worstGrad, worstStat };
}

/** The worst relative error per quantity, printed once per case and backend (the parity figures). */
export function reportParity(label: string, errs: Record<string, number>): void {
  console.log(
    `${label}: ${Object.entries(errs)
      .map(([k, v]) => `${k} ${v.toExponential(2)}`)
      .join(', ')}`,
  );
}

/** A refused folder's expected error: its message, and (when given) one of its details. */
export interface Refusal {
  message: RegExp;
  detail?: RegExp;
}

/** Asserts that `read` refuses with a bad-input error saying `r.message` (and `r.detail` among its details). */
export function assertRefused(read: () => unknown, r: Refusal): void {
  assert.throws(read, (e: unknown) => {
    assert.ok(e instanceof AftError && e.code === 'bad_input', String(e));
    assert.match(e.message, r.message);
    if (r.detail)
      assert.ok(
        e.details?.some((d) => r.detail!.test(d)),
        JSON.stringify(e.details),
      );
    return true;
  });
}

/** Each model's logits on `input` (evaluation), as plain arrays. */
export async function evalLogits(models: StudentModel[], input: () => Tensor): Promise<number[][]> {
  return Promise.all(
    models.map(async (m) => {
      const l = tf.tidy(() => m.forward(input()).logits);
      const d = await l.data();
      l.dispose();
      return Array.from(d);
    }),
  );
}

/**
 * For a fixture script's check mode (`make_*.py check`, with AFT_ROUNDTRIP_DIR set): the input
 * and aft's logits written next to the saved folder, which the script loads into PyTorch.
 */
export function writeRoundTripCheck(
  out: string,
  input: Record<string, StTensor>,
  logits: number[],
  shape: number[],
): void {
  if (!process.env.AFT_ROUNDTRIP_DIR) return;
  fs.writeFileSync(
    path.join(out, 'check.safetensors'),
    encodeSafetensors({ ...input, logits: { shape, data: Float32Array.from(logits) } }),
  );
}

/**
 * `parityErrors`, reported under `label` and held to the students' tolerances: eval logits and
 * φ, the training forward's logits and loss within 1e-4, every gradient within 1e-3 (relative
 * to the largest value). Gives the errors for the checks a family adds (BatchNorm's statistics).
 */
export async function assertParity(
  label: string,
  model: StudentModel,
  ref: Record<string, StTensor>,
  input?: (ref: Record<string, StTensor>) => Tensor,
): Promise<ParityErrors> {
  const p = await parityErrors(model, ref, input);
  const { errs } = p;
  reportParity(label, errs);
  assert.ok(errs.logits < 1e-4 && errs.phi < 1e-4, `eval: logits ${errs.logits}, φ ${errs.phi}`);
  assert.ok(errs.train_logits < 1e-4 && errs.loss < 1e-4, `train: logits ${errs.train_logits}, loss ${errs.loss}`);
  assert.ok(errs.gradients < 1e-3, `gradient of ${p.worstGrad}: ${errs.gradients}`);
  return p;
}
