/**
 * The only module that imports sharp (libvips): image decoding and resizing for image-folder
 * datasets and for the preprocessing of pre-trained image models. Works on bytes already read,
 * so callers can hash what they decode.
 */
import sharp from 'sharp';

// Every file is decoded once per use; libvips' operation cache would only hold memory.
sharp.cache(false);

export type Resample = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';

const KERNEL: Record<Resample, 'nearest' | 'linear' | 'cubic' | 'lanczos3'> = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' };

export interface RawImage {
  /** Interleaved HWC bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export type ResizeRule =
  /** Exactly this size, covering it and centre-cropping the overflow (keeps the aspect ratio). */
  | { mode: 'cover'; width: number; height: number }
  /** Exactly this size, stretched. */
  | { mode: 'exact'; width: number; height: number }
  /** The shorter side to this length, the longer one scaled to keep the ratio (rounded down, as transformers does). */
  | { mode: 'shortest'; edge: number };

/**
 * Decodes an image (PNG, JPEG, WebP, …) to 8-bit RGB or grey, resized by `rule`. Alpha is
 * dropped, as PIL's convert('RGB') does. Throws sharp's own message for undecodable bytes.
 */
export async function decodeImage(bytes: Uint8Array, channels: 1 | 3, rule?: ResizeRule, resample: Resample = 'bilinear'): Promise<RawImage> {
  let img = sharp(bytes, { failOn: 'error' }).removeAlpha();
  img = channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
  if (rule) {
    const kernel = KERNEL[resample];
    if (rule.mode === 'shortest') {
      const meta = await sharp(bytes).metadata();
      const w = meta.autoOrient?.width ?? meta.width;
      const h = meta.autoOrient?.height ?? meta.height;
      if (!w || !h) throw new Error('image has no size');
      const s = rule.edge;
      const size = w <= h ? { width: s, height: Math.floor((s * h) / w) } : { width: Math.floor((s * w) / h), height: s };
      img = img.resize({ ...size, fit: 'fill', kernel });
    } else {
      img = img.resize({ width: rule.width, height: rule.height, fit: rule.mode === 'cover' ? 'cover' : 'fill', kernel });
    }
  }
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
}

/** Encodes raw pixels as PNG, JPEG or WebP (tests and fixtures write image folders with it). */
export async function encodeImage(raw: RawImage, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const img = sharp(Buffer.from(raw.data), { raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 3 | 4 } });
  return format === 'png' ? img.png().toBuffer() : format === 'jpeg' ? img.jpeg({ quality: 95 }).toBuffer() : img.webp({ lossless: true }).toBuffer();
}
