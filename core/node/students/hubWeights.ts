/**
 * The weights of a hub folder: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json` (transformers' `save_pretrained` past its shard size: a
 * `weight_map` from each tensor to its shard file). Headers are read and merged first (no data),
 * each tensor checked to be in the shard the index names and in no other.
 */
import * as path from 'node:path';
import { badInput } from '../../common/util/errors';
import { MAX_JSON_BYTES, readUserJson } from '../io/userFile';
import { readSafetensors, readSafetensorsHeader, type StEntry, type StTensor } from '../io/safetensors';

export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

/** The weight files of a folder that has `model.safetensors` or its index (the caller checked which). */
export function weightFiles(folder: string, names: readonly string[]): { files: string[]; described: string } {
  if (names.includes(WEIGHTS_FILE)) {
    const file = path.join(folder, WEIGHTS_FILE);
    return { files: [file], described: file };
  }
  const index = path.join(folder, WEIGHTS_INDEX);
  const json = readUserJson(index, { what: WEIGHTS_INDEX, maxBytes: MAX_JSON_BYTES, field: 'downstream.folder' }) as {
    weight_map?: unknown;
  };
  const map = json?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.keys(map).length)
    throw badInput('expected a `weight_map` object from tensor names to shard files', {
      file: index,
      field: 'weight_map',
    });
  const shards = new Set<string>();
  for (const [key, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || !shard.endsWith('.safetensors'))
      throw badInput(`${key}: expected a .safetensors file name in this folder, got ${JSON.stringify(shard)}`, {
        file: index,
        field: 'weight_map',
      });
    shards.add(shard);
  }
  return { files: [...shards].sort().map((s) => path.join(folder, s)), described: index };
}

/** The merged headers of the weight files; a tensor in two shards, or not where the index says, is refused. */
export function readWeightsHeader(folder: string, files: string[]): Record<string, StEntry> {
  const out: Record<string, StEntry> = {};
  const where = new Map<string, string>();
  for (const file of files) {
    for (const [k, e] of Object.entries(readSafetensorsHeader(file).tensors)) {
      const before = where.get(k);
      if (before)
        throw badInput(`tensor ${k} is in two shards: ${path.basename(before)} and ${path.basename(file)}`, {
          file,
          field: 'downstream.folder',
        });
      where.set(k, file);
      out[k] = e;
    }
  }
  if (files.length > 1) checkIndex(folder, where);
  return out;
}

function checkIndex(folder: string, where: Map<string, string>): void {
  const index = path.join(folder, WEIGHTS_INDEX);
  const map = (
    readUserJson(index, { what: WEIGHTS_INDEX, maxBytes: MAX_JSON_BYTES }) as { weight_map: Record<string, string> }
  ).weight_map;
  for (const [k, shard] of Object.entries(map)) {
    const got = where.get(k);
    if (!got)
      throw badInput(`the index lists ${k} in ${shard}, which does not hold it`, { file: index, field: 'weight_map' });
    if (path.basename(got) !== shard)
      throw badInput(`the index lists ${k} in ${shard}, but it is in ${path.basename(got)}`, {
        file: index,
        field: 'weight_map',
      });
  }
  for (const [k, file] of where)
    if (!(k in map))
      throw badInput(`${path.basename(file)} holds ${k}, which the index does not list`, {
        file: index,
        field: 'weight_map',
      });
}

/** Every tensor of the weight files, as float32. */
export function readWeights(files: string[]): Record<string, StTensor> {
  const out: Record<string, StTensor> = {};
  for (const file of files) Object.assign(out, readSafetensors(file).tensors);
  return out;
}
