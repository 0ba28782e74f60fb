/**
 * timm's eval preprocessing of a student from its config.json `pretrained_cfg`, as data: the
 * image size and channels the folder checks hold the weights to, and what the sidecar's image
 * code applies.
 */
import { badInput } from '../../common/util/errors';
import type { ImagePreprocess, Resample, ResizeRule } from '../images/preprocess';

export type { ImagePreprocess };

/** timm's `pretrained_cfg` (in a timm hub folder's config.json): the fields its eval transform reads. */
export interface TimmPretrainedCfg {
  input_size?: unknown;
  crop_pct?: unknown;
  crop_mode?: unknown;
  interpolation?: unknown;
  mean?: unknown;
  std?: unknown;
}

/** timm's defaults (`resolve_data_config`) for a config that leaves a field out. */
export const TIMM_DEFAULTS = {
  crop_pct: 0.875,
  interpolation: 'bicubic' as Resample,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

const TIMM_RESAMPLE: Record<string, Resample> = {
  nearest: 'nearest',
  bilinear: 'bilinear',
  bicubic: 'bicubic',
  lanczos: 'lanczos',
};

/**
 * timm's eval transform (`transforms_imagenet_eval`) as an ImagePreprocess for the tfjs student
 * (NHWC): resize to floor(size / crop_pct) (the shortest edge for a square size, covering the
 * size otherwise; `crop_mode: squash` stretches), centre crop to the size, /255, mean/std.
 * `size` overrides `input_size`'s [H, W] (timm keeps crop_pct when the size changes). Fields
 * are checked; a wrong one names `pretrained_cfg.<field>` in `file`.
 */
export function timmImagePreprocess(
  cfg: TimmPretrainedCfg,
  size: [number, number] | undefined,
  file: string,
): ImagePreprocess {
  const where = (field: string): { file: string; field: string } => ({ file, field: `pretrained_cfg.${field}` });
  const numbers = (v: unknown): v is number[] =>
    Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  let channels = 3;
  let hw: [number, number] = [224, 224];
  if (cfg.input_size !== undefined) {
    const s = cfg.input_size;
    if (!numbers(s) || s.length !== 3 || !s.every((x) => Number.isInteger(x) && x > 0))
      throw badInput(`expected [channels, height, width], got ${JSON.stringify(s)}`, where('input_size'));
    channels = s[0]!;
    hw = [s[1], s[2]];
  }
  if (channels !== 1 && channels !== 3)
    throw badInput(`images have 1 or 3 channels; input_size says ${channels}`, where('input_size'));
  if (size) hw = size;
  const cropPct = cfg.crop_pct ?? TIMM_DEFAULTS.crop_pct;
  if (typeof cropPct !== 'number' || !(cropPct > 0 && cropPct <= 1))
    throw badInput(`expected a number in (0, 1], got ${JSON.stringify(cfg.crop_pct)}`, where('crop_pct'));
  const interpolation = cfg.interpolation ?? TIMM_DEFAULTS.interpolation;
  const resample = typeof interpolation === 'string' ? TIMM_RESAMPLE[interpolation] : undefined;
  if (!resample)
    throw badInput(
      `expected one of ${Object.keys(TIMM_RESAMPLE).join(', ')}, got ${JSON.stringify(interpolation)}`,
      where('interpolation'),
    );
  const mode = cfg.crop_mode ?? 'center';
  if (mode !== 'center' && mode !== 'squash')
    throw badInput(
      `expected \`center\` or \`squash\` (timm's \`border\` is not supported), got ${JSON.stringify(mode)}`,
      where('crop_mode'),
    );
  const stats: Record<'mean' | 'std', number[]> = { mean: TIMM_DEFAULTS.mean, std: TIMM_DEFAULTS.std };
  for (const k of ['mean', 'std'] as const) {
    const v = cfg[k];
    if (v === undefined) continue;
    if (!numbers(v) || (v.length !== 1 && v.length !== channels) || (k === 'std' && v.some((x) => x <= 0))) {
      throw badInput(
        `expected ${channels} ${k === 'std' ? 'positive ' : ''}numbers (one per channel), got ${JSON.stringify(v)}`,
        where(k),
      );
    }
    stats[k] = v;
  }
  const scale: [number, number] = [Math.floor(hw[0] / cropPct), Math.floor(hw[1] / cropPct)];
  const resize: ResizeRule =
    mode === 'squash'
      ? { mode: 'exact', height: scale[0], width: scale[1] }
      : scale[0] === scale[1]
        ? { mode: 'shortest', edge: scale[0] }
        : { mode: 'cover', height: scale[0], width: scale[1] };
  return {
    resize,
    resample,
    crop: hw,
    rescale: 1 / 255,
    mean: stats.mean,
    std: stats.std,
    layout: 'nhwc',
    channels: channels,
    height: hw[0],
    width: hw[1],
  };
}
