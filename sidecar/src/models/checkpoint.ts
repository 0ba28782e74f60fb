/**
 * Starting weights for a downstream model: a `.safetensors` checkpoint written by `aft` (keys are
 * the model's parameter names), or a TensorFlow.js checkpoint (`model.json` with a weights
 * manifest and its `.bin` shards, as `model.save('file://...')` writes), whose weights are taken
 * in order — a tfjs Sequential of Dense/Conv2D layers stores kernels and biases in the same
 * layout and order as these models. Every shape is checked; a mismatch names the tensor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { readSafetensors, type StTensor } from '../../../core/node/io/safetensors';
import { MAX_JSON_BYTES, readUserFile, readUserJson } from '../../../core/node/io/userFile';
import { tf } from '../runtime/tf';
import { badInput } from '../../../core/common/util/errors';
import type { DownstreamModel } from './downstream';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a tfjs `model.json` + shards into named float32 tensors, in manifest order. */
export function readTfjsWeights(file: string): { name: string; tensor: StTensor }[] {
  const where = { file, field: 'downstream.init' };
  const json = readUserJson(file, { what: 'tfjs model.json', field: 'downstream.init', maxBytes: MAX_JSON_BYTES });
  const manifest = isRecord(json) ? json.weightsManifest : undefined;
  if (!Array.isArray(manifest)) throw badInput('not a tfjs checkpoint: no weightsManifest', where);
  const out: { name: string; tensor: StTensor }[] = [];
  manifest.forEach((group: unknown, g) => {
    if (
      !isRecord(group) ||
      !Array.isArray(group.paths) ||
      !group.paths.every((p) => typeof p === 'string') ||
      !Array.isArray(group.weights)
    ) {
      throw badInput(`weightsManifest[${g}] must be {paths: [file, ...], weights: [{name, shape, dtype}, ...]}`, where);
    }
    const bytes = Buffer.concat(
      group.paths.map((p) =>
        readUserFile(path.resolve(path.dirname(file), p), {
          what: 'tfjs weight shard',
          field: 'downstream.init',
          maxBytes: bufferConstants.MAX_LENGTH,
        }),
      ),
    );
    let offset = 0;
    group.weights.forEach((w: unknown, k) => {
      if (
        !isRecord(w) ||
        typeof w.name !== 'string' ||
        !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
      ) {
        throw badInput(
          `weightsManifest[${g}].weights[${k}] must be {name, shape: [non-negative integers], dtype}`,
          where,
        );
      }
      if (w.dtype !== 'float32')
        throw badInput(
          `weight '${w.name}' has dtype ${String(w.dtype)}; only float32 checkpoints are supported`,
          where,
        );
      const shape = w.shape as number[];
      const count = shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > bytes.length)
        throw badInput(`weight shards are shorter than the manifest says (at '${w.name}')`, where);
      const data = new Float32Array(count);
      data.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4)));
      out.push({ name: w.name, tensor: { shape, data } });
      offset += count * 4;
    });
  });
  return out;
}

function assign(model: DownstreamModel, name: string, t: StTensor, source: string, file: string): void {
  const v = model.params.get(name) ?? model.buffers!.get(name)!;
  if (t.shape.join('x') !== v.shape.join('x')) {
    throw badInput(
      `${source} has shape [${t.shape.join(', ')}] but the model's ${name} needs [${v.shape.join(', ')}]`,
      { file, field: 'downstream.init' },
    );
  }
  v.assign(tf.tensor(t.data, v.shape));
}

/** Loads starting weights into `model` (same architecture); throws a bad-input error otherwise. */
export function loadCheckpoint(model: DownstreamModel, file: string): void {
  if (!fs.existsSync(file)) throw badInput('checkpoint not found', { file, field: 'downstream.init' });
  if (file.endsWith('.json')) {
    const weights = readTfjsWeights(file);
    const names = [...model.params.keys()];
    if (weights.length !== names.length) {
      throw badInput(
        `the tfjs checkpoint has ${weights.length} weights but the model has ${names.length} (${names.join(', ')})`,
        { file, field: 'downstream.init' },
      );
    }
    names.forEach((n, i) => assign(model, n, weights[i].tensor, `weight '${weights[i].name}'`, file));
    return;
  }
  const { tensors } = readSafetensors(file);
  for (const k of [...model.params.keys(), ...(model.buffers?.keys() ?? [])]) {
    const t = tensors[k];
    if (!t)
      throw badInput(`checkpoint has no tensor '${k}' (it has: ${Object.keys(tensors).join(', ')})`, {
        file,
        field: 'downstream.init',
      });
    assign(model, k, t, `tensor '${k}'`, file);
  }
}
