/**
 * The only module that imports sharp (libvips): image decoding and resizing for image-folder
 * datasets and for the preprocessing of pre-trained image models. Works on bytes already read,
 * so callers can hash what they decode.
 */
import sharp from 'sharp';
import type { Resample, ResizeRule } from '../../../core/node/images/preprocess';

// Every file is decoded once per use; libvips' operation cache would only hold memory.
sharp.cache(false);

export type { Resample, ResizeRule };

const KERNEL: Record<Resample, 'nearest' | 'linear' | 'cubic' | 'lanczos3'> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos: 'lanczos3',
};

export interface RawImage {
  /** Interleaved HWC bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * Decodes an image (bytes, or a file path so that the read also happens off the main thread) to
 * 8-bit RGB or grey, resized by `rule`. Alpha is dropped, as PIL's convert('RGB') does. Throws
 * sharp's own message for undecodable input.
 */
export async function decodeImage(
  input: Uint8Array | string,
  channels: 1 | 3,
  rule?: ResizeRule,
  resample: Resample = 'bilinear',
): Promise<RawImage> {
  let img = sharp(input, { failOn: 'error' }).removeAlpha();
  img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
  if (rule) {
    const kernel = KERNEL[resample];
    if (rule.mode === 'shortest') {
      // `outside` is the shortest-edge resize in one libvips pipeline (no separate header read),
      // so the whole decode runs on the thread pool, off the main thread. It
      // rounds the longer side where transformers truncates: at most one pixel, before the crop.
      img = img.resize({ width: rule.edge, height: rule.edge, fit: 'outside', kernel });
    } else {
      img = img.resize({
        width: rule.width,
        height: rule.height,
        fit: rule.mode === 'cover' ? 'cover' : 'fill',
        kernel,
      });
    }
  }
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: info.channels,
  };
}

/** Encodes raw pixels as PNG, JPEG or WebP (tests and fixtures write image folders with it). */
export async function encodeImage(raw: RawImage, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const img = sharp(Buffer.from(raw.data), {
    raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 3 | 4 },
  });
  return format === 'png'
    ? img.png().toBuffer()
    : format === 'jpeg'
      ? img.jpeg({ quality: 95 }).toBuffer()
      : img.webp({ lossless: true }).toBuffer();
}
