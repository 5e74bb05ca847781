// Decoding one image into the uint8 HWC pixels graft trains on, with sharp (libvips).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { GraftError, usageError } from '../core/errors.js';
import { decodeBmp, isBmp } from './bmp.js';
import type { ImageSize, ResizeMode } from './types.js';

/** Extensions read from image folders (compared lower-cased), as Keras' image_dataset_from_directory. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp'];

export const isImagePath = (path: string): boolean => IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());

/** Transparent pixels become white: what a person sees in a viewer, and what logo or product cut-outs expect. */
export const ALPHA_BACKGROUND = { r: 255, g: 255, b: 255 };
/** 'contain' pads with black, as Keras' pad_to_aspect_ratio pads with zeros. */
export const LETTERBOX_BACKGROUND = { r: 0, g: 0, b: 0 };

export const bytesPerImage = (size: ImageSize): number => size.height * size.width * size.channels;

/** Thrown for input that is not a usable image; `reason` is short enough for a skip list. */
export class DecodeError extends GraftError {
  constructor(
    readonly reason: string,
    where: string,
  ) {
    super(`cannot decode ${where}: ${reason}`, 1);
  }
}

/** First line of a sharp/libvips message, minus its "Input buffer" preamble. */
export function shortReason(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (/unsupported image format/i.test(msg)) return 'not a decodable image';
  if (/empty/i.test(msg)) return 'empty file';
  const short = msg.replace(/^Input (buffer|file) (has |contains )?/i, '');
  return short.length > 100 ? `${short.slice(0, 97)}...` : short;
}

// PIL's convert('L') weights (ITU-R 601-2 on gamma-encoded values), which Keras' color_mode='grayscale'
// also uses; libvips' b-w works in linear light and gives noticeably brighter reds and blues.
export function toLuma(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) {
    out[i] = (rgb[j] * 19595 + rgb[j + 1] * 38470 + rgb[j + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

async function fit(image: Sharp, size: ImageSize, resize: ResizeMode): Promise<Uint8Array> {
  const { data, info } = await image
    .flatten({ background: ALPHA_BACKGROUND })
    .resize({ width: size.width, height: size.height, fit: resize, position: 'centre', background: LETTERBOX_BACKGROUND })
    // sRGB also brings 16-bit, greyscale and CMYK input to 8-bit RGB.
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size.width || info.height !== size.height || data.length !== size.width * size.height * 3) {
    throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels} (${data.length} bytes)`);
  }
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return size.channels === 1 ? toLuma(rgb) : rgb;
}

/** The decoder's first step, exported for src/data/detection/render.ts: BMP via bmp.ts, anything else EXIF-rotated. */
export function open(buf: Uint8Array): Sharp {
  if (buf.length === 0) throw new Error('empty file');
  if (isBmp(buf)) {
    const { data, width, height } = decodeBmp(buf);
    return sharp(data, { raw: { width, height, channels: 3 } });
  }
  // 'truncated' rejects cut-off files but tolerates the harmless warnings many camera JPEGs carry.
  // Only the first frame of an animated GIF/WebP is read (sharp's default).
  return sharp(buf, { failOn: 'truncated' }).rotate();
}

/**
 * Decode an encoded image (JPEG, PNG, WebP, GIF, BMP, TIFF...) to `size` as uint8 HWC:
 * EXIF orientation applied, alpha flattened onto white, channels converted, 16-bit reduced to 8.
 * Throws DecodeError (exit 1) when the bytes are not a usable image.
 */
export async function decodeImageBuffer(
  buf: Uint8Array,
  size: ImageSize,
  resize: ResizeMode = 'cover',
  where = 'image',
): Promise<Uint8Array> {
  try {
    return await fit(open(buf), size, resize);
  } catch (err) {
    throw new DecodeError(shortReason(err), where);
  }
}

/** decodeImageBuffer for a file; a missing file is a usage error (exit 2). */
export async function decodeImageFile(path: string, size: ImageSize, resize: ResizeMode = 'cover'): Promise<Uint8Array> {
  return decodeImageBuffer(await readInputFile(path, 'image'), size, resize, path);
}

/** A file given to predict: a missing file or a folder is a usage error naming it (`noun`: image, audio). */
export async function readInputFile(path: string, noun: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw usageError(`${noun} not found: ${path}`);
    if (code === 'EISDIR') throw usageError(`not an ${noun} file: ${path} is a folder`);
    throw new DecodeError(shortReason(err), path);
  }
}

/** Resize/convert pixels already in memory (e.g. 28x28x1 digits to a base's 224x224x3). */
export async function resizePixels(pixels: Uint8Array, from: ImageSize, to: ImageSize, resize: ResizeMode = 'cover'): Promise<Uint8Array> {
  if (from.height === to.height && from.width === to.width) {
    if (from.channels === to.channels) return pixels;
    if (from.channels === 1) {
      const out = new Uint8Array(pixels.length * 3);
      for (let i = 0; i < pixels.length; i++) out.fill(pixels[i], i * 3, i * 3 + 3);
      return out;
    }
    return toLuma(pixels);
  }
  const raw = { width: from.width, height: from.height, channels: from.channels };
  return fit(sharp(pixels, { raw }), to, resize);
}
