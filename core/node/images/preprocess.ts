/**
 * How an image is prepared for a model, as data: read from a preprocessor config or a timm
 * `pretrained_cfg` (no image library needed), applied by the sidecar (runtime/images.ts, sharp).
 */

/** The resampling filter of a resize, in PIL's and timm's names. */
export type Resample = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';

export type ResizeRule =
  /** Exactly this size, covering it and centre-cropping the overflow (keeps the aspect ratio). */
  | { mode: 'cover'; width: number; height: number }
  /** Exactly this size, stretched. */
  | { mode: 'exact'; width: number; height: number }
  /** The shorter side to this length, the longer one scaled to keep the ratio (rounded down, as transformers does). */
  | { mode: 'shortest'; edge: number };

export interface ImagePreprocess {
  resize?: ResizeRule;
  resample: Resample;
  /** Centre crop [height, width] after the resize; zero-padded where the image is smaller. */
  crop?: [number, number];
  rescale: number;
  mean?: number[];
  std?: number[];
  layout: 'nchw' | 'nhwc';
  channels: 1 | 3;
  /** Size of the model input. */
  height: number;
  width: number;
}
