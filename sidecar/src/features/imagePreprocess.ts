/**
 * The image preprocessing of a pre-trained model, as transformers' image processors do it:
 * resize (exact size, or shortest edge keeping the ratio), centre crop, rescale, normalise by
 * mean/std, channel order. Read from `preprocessor_config.json` when the model folder has one,
 * overridden field by field by the experiment's `preprocess`, and completed from the model's
 * input shape (size, channels, layout). Resizing uses libvips (sharp), not PIL, so pixels can
 * differ slightly from Python's; the features are of the same model on the same crop.
 */
import type { ImagePreprocessSpec } from '../../../core/node/experiment/schema';
import type { ImagePreprocess, Resample } from '../../../core/node/images/preprocess';
import { decodeImage, type ResizeRule } from '../runtime/images';
import type { OnnxValueInfo } from '../runtime/onnx';
import { MAX_JSON_BYTES, readUserJson } from '../../../core/node/io/userFile';
import { badInput } from '../../../core/common/util/errors';

export type { ImagePreprocess };

interface HfConfig {
  do_resize?: boolean;
  size?: number | { shortest_edge?: number; height?: number; width?: number };
  resample?: number;
  do_center_crop?: boolean;
  crop_size?: number | { height?: number; width?: number };
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number[];
  image_std?: number[];
}

/** PIL's resampling constants, which preprocessor configs use. */
const PIL: Record<number, Resample> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'bilinear',
  5: 'bilinear',
};

export function readPreprocessorConfig(file: string): HfConfig {
  const json = readUserJson(file, { what: 'preprocessor config', maxBytes: MAX_JSON_BYTES });
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw badInput('the preprocessor config must be a JSON object', { file });
  return json;
}

function fromConfig(c: HfConfig): ImagePreprocessSpec {
  const out: ImagePreprocessSpec = {};
  if (c.do_resize !== false && c.size !== undefined) {
    const s = c.size;
    if (typeof s === 'number') {
      // An integer size is a shortest edge for processors that crop afterwards (CLIP), else a square.
      if (c.do_center_crop) out.shortest_edge = s;
      else out.size = [s, s];
    } else if (s.shortest_edge !== undefined) out.shortest_edge = s.shortest_edge;
    else if (s.height !== undefined && s.width !== undefined) out.size = [s.height, s.width];
  }
  if (c.do_center_crop && c.crop_size !== undefined) {
    const k = c.crop_size;
    if (typeof k === 'number') out.crop = [k, k];
    else if (k.height !== undefined && k.width !== undefined) out.crop = [k.height, k.width];
  }
  if (c.resample !== undefined && PIL[c.resample]) out.resample = PIL[c.resample];
  out.rescale = c.do_rescale === false ? 1 : (c.rescale_factor ?? 1 / 255);
  if (c.do_normalize !== false && c.image_mean && c.image_std) {
    out.mean = c.image_mean;
    out.std = c.image_std;
  }
  return out;
}

/** Completes the preprocessing from the config, the overrides and the model input. */
export function resolveImagePreprocess(
  config: HfConfig | undefined,
  override: ImagePreprocessSpec | undefined,
  input: OnnxValueInfo,
  where: { file: string; field: string },
): ImagePreprocess {
  const spec: ImagePreprocessSpec = { ...(config ? fromConfig(config) : {}), ...(override ?? {}) };
  const dims = input.shape;
  if (dims.length !== 4)
    throw badInput(
      `image input '${input.name}' must have shape [N, C, H, W] or [N, H, W, C], but the model declares [${dims.join(', ')}]`,
      where,
    );
  const small = (d: number | string | undefined): boolean => typeof d === 'number' && d >= 1 && d <= 4;
  const layout = spec.layout ?? (small(dims[1]) ? 'nchw' : small(dims[3]) ? 'nhwc' : 'nchw');
  const [hDim, wDim, cDim] = layout === 'nchw' ? [dims[2], dims[3], dims[1]] : [dims[1], dims[2], dims[3]];
  const channels = cDim === 1 ? 1 : 3;
  const modelSize =
    typeof hDim === 'number' && typeof wDim === 'number' && hDim > 0 && wDim > 0
      ? ([hDim, wDim] as [number, number])
      : undefined;
  let resize: ResizeRule | undefined;
  if (spec.size) resize = { mode: 'exact', height: spec.size[0], width: spec.size[1] };
  else if (spec.shortest_edge) resize = { mode: 'shortest', edge: spec.shortest_edge };
  else if (modelSize && !spec.crop) resize = { mode: 'exact', height: modelSize[0], width: modelSize[1] };
  const final =
    spec.crop ?? (resize?.mode === 'exact' ? ([resize.height, resize.width] as [number, number]) : undefined);
  if (!final)
    throw badInput('cannot tell the image size the model needs: set `preprocess.size` or `preprocess.crop`', where);
  if (modelSize && (modelSize[0] !== final[0] || modelSize[1] !== final[1])) {
    throw badInput(
      `preprocessing gives ${final[0]}x${final[1]} images but input '${input.name}' expects ${modelSize[0]}x${modelSize[1]}`,
      where,
    );
  }
  for (const [k, v] of [
    ['mean', spec.mean],
    ['std', spec.std],
  ] as const) {
    if (v && v.length !== 1 && v.length !== channels)
      throw badInput(`preprocess ${k} has ${v.length} values for ${channels} channels`, where);
  }
  return {
    ...(resize ? { resize } : {}),
    resample: spec.resample ?? 'bilinear',
    ...(spec.crop ? { crop: spec.crop } : {}),
    rescale: spec.rescale ?? 1 / 255,
    ...(spec.mean && spec.std ? { mean: spec.mean, std: spec.std } : {}),
    layout,
    channels,
    height: final[0],
    width: final[1],
  };
}

/**
 * One image (bytes or a file path) → model input values (C×H×W or H×W×C floats): decoded and
 * resized by libvips, then cropped (zero padding where the image is smaller) and normalised
 * with one multiply-add per value.
 */
export async function preprocessImage(input: Uint8Array | string, p: ImagePreprocess): Promise<Float32Array> {
  const out = new Float32Array(p.channels * p.height * p.width);
  await preprocessImageInto(input, p, out, 0);
  return out;
}

/**
 * `preprocessImage` written straight into a batch's array at `offset`. The decode runs on the
 * thread pool; this loop runs on the main thread, between the model's runs, so it is kept tight:
 * no allocation, no per-pixel bounds test (the rows and columns outside the image are filled apart).
 */
export async function preprocessImageInto(
  input: Uint8Array | string,
  p: ImagePreprocess,
  out: Float32Array,
  offset: number,
): Promise<void> {
  const img = await decodeImage(input, p.channels, p.resize, p.resample);
  const { height: H, width: W, channels: C } = p;
  const top = Math.floor((img.height - H) / 2);
  const left = Math.floor((img.width - W) / 2);
  const src = img.data;
  const ic = img.channels;
  const iw = img.width;
  // Output columns x0..x1 have a source pixel; the rest is padding.
  const x0 = Math.max(0, -left);
  const x1 = Math.min(W, iw - left);
  const nchw = p.layout === 'nchw';
  // Step between neighbouring x in the output.
  const dx = nchw ? 1 : C;
  for (let c = 0; c < C; c++) {
    const std = p.std ? (p.std[c] ?? p.std[0]) : 1;
    const scale = p.rescale / std;
    const shift = -(p.mean ? (p.mean[c] ?? p.mean[0]) : 0) / std;
    for (let y = 0; y < H; y++) {
      const sy = y + top;
      const row = offset + (nchw ? (c * H + y) * W : y * W * C + c);
      if (sy < 0 || sy >= img.height) {
        for (let x = 0, o = row; x < W; x++, o += dx) out[o] = shift;
        continue;
      }
      for (let x = 0, o = row; x < x0; x++, o += dx) out[o] = shift;
      let s = (sy * iw + left + x0) * ic + c;
      for (let x = x0, o = row + x0 * dx; x < x1; x++, o += dx, s += ic) out[o] = src[s] * scale + shift;
      for (let x = Math.max(x0, x1), o = row + Math.max(x0, x1) * dx; x < W; x++, o += dx) out[o] = shift;
    }
  }
}
