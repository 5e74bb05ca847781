// Decoding one image into the uint8 HWC pixels graft trains on, with sharp (libvips).
import { extname } from 'node:path';
import type { Sharp } from 'sharp';
import { sharp } from '../io/sharp.js';
import { GraftError, usageError } from '../core/errors.js';
import { MiB, readFileBounded, TooLargeError } from '../io/read.js';
import { decodeBmp, isBmp } from './bmp.js';
import { toLuma } from './luma.js';
import type { ImageSize, ResizeMode } from './types.js';

export { toLuma };

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

/**
 * The most pixels graft decodes from one image: 256 megapixels, a 16384 x 16384 image (a 200 MP
 * phone photo fits). A header may claim 50000 x 50000 in a few bytes; sharp refuses it before
 * allocating. Set here rather than left to sharp's default, so a new sharp cannot change it.
 */
export const MAX_IMAGE_PIXELS = 16384 * 16384;
/** The largest image file graft reads (and, from a pipe or a device, the most it reads before refusing). */
export const MAX_IMAGE_BYTES = 256 * MiB;

/** What graft decodes, named in the refusal of anything else. */
const FORMATS = 'not a JPEG, PNG, WebP, GIF, BMP or TIFF image';

/** Bytes that are none of the listed formats (open's refusal, before sharp decodes anything). */
class UnlistedFormat extends Error {
  constructor() {
    super(FORMATS);
  }
}

/**
 * Why `buf` was refused: an image in a format graft does not read (SVG, HEIF, …, as libvips tells
 * from its header alone, without decoding it), or bytes that are no image at all.
 */
async function unlistedReason(buf: Uint8Array): Promise<string> {
  const known = await sharp(buf)
    .metadata()
    .then(
      (m) => m.format !== undefined,
      () => false,
    );
  return known ? FORMATS : 'not a decodable image';
}

/**
 * The raster formats graft reads, by their first bytes (BMP is bmp.ts's). Checked before sharp
 * sees the bytes, because libvips reads more than pictures: SVG (an XML document rasterised by
 * librsvg, with its own parser and its own notion of size), HEIF/AVIF, and whatever its build adds.
 */
function isListedRaster(b: Uint8Array): boolean {
  const ascii = (at: number, s: string) => b.length >= at + s.length && [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
  const bytes = (...xs: number[]) => b.length >= xs.length && xs.every((x, i) => b[i] === x);
  return (
    bytes(0xff, 0xd8, 0xff) || // JPEG
    bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a) || // PNG
    ascii(0, 'GIF87a') ||
    ascii(0, 'GIF89a') ||
    (ascii(0, 'RIFF') && ascii(8, 'WEBP')) ||
    bytes(0x49, 0x49, 0x2a, 0x00) || // TIFF, little-endian
    bytes(0x4d, 0x4d, 0x00, 0x2a) || // TIFF, big-endian
    bytes(0x49, 0x49, 0x2b, 0x00) || // BigTIFF
    bytes(0x4d, 0x4d, 0x00, 0x2b)
  );
}

/**
 * An absolute path in a library's message (quoted, so it may hold spaces, or bare): not the
 * caller's to see (a temporary file, another user's folder) unless it passed it as `where`.
 */
const QUOTED_PATH = /(['"`])(?:[A-Za-z]:)?[\\/][^'"`]*\1/g;
const ABSOLUTE_PATH = /(?<=^|[\s(])(?:[A-Za-z]:)?(?:[\\/][^\s'"`:,;()[\]\\/]+){2,}/g;

/** First line of a sharp/libvips message, minus its "Input buffer" preamble and any file path. */
export function shortReason(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (/unsupported image format/i.test(msg)) return 'not a decodable image';
  if (/exceeds pixel limit/i.test(msg)) return `more than ${MAX_IMAGE_PIXELS / 2 ** 20} megapixels`;
  if (/empty/i.test(msg)) return 'empty file';
  const short = msg
    .replace(/^Input (buffer|file|image) (has |contains )?/i, '')
    .replace(QUOTED_PATH, '$1<path>$1')
    .replace(ABSOLUTE_PATH, '<path>');
  return short.length > 100 ? `${short.slice(0, 97)}...` : short;
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
  const limitInputPixels = MAX_IMAGE_PIXELS;
  if (isBmp(buf)) {
    // decodeBmp allocates width x height x 3 bytes: a claimed size is checked before it does.
    if (bmpPixels(buf) > MAX_IMAGE_PIXELS) throw new Error('exceeds pixel limit');
    const { data, width, height } = decodeBmp(buf);
    return sharp(data, { raw: { width, height, channels: 3 }, limitInputPixels });
  }
  if (!isListedRaster(buf)) throw new UnlistedFormat();
  // 'truncated' rejects cut-off files but tolerates the harmless warnings many camera JPEGs carry.
  // Only the first frame of an animated GIF/WebP is read (sharp's default).
  return sharp(buf, { failOn: 'truncated', limitInputPixels }).rotate();
}

/** The pixels a BMP header claims (width at 18, height at 22; 16-bit at 18 and 20 in the old 12-byte header). */
function bmpPixels(buf: Uint8Array): number {
  if (buf.length < 26) return 0;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const core = view.getUint32(14, true) === 12;
  const width = core ? view.getUint16(18, true) : Math.abs(view.getInt32(18, true));
  const height = core ? view.getUint16(20, true) : Math.abs(view.getInt32(22, true));
  return width * height;
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
    throw new DecodeError(err instanceof UnlistedFormat ? await unlistedReason(buf) : shortReason(err), where);
  }
}

/** decodeImageBuffer for a file; a missing file is a usage error (exit 2). */
export async function decodeImageFile(path: string, size: ImageSize, resize: ResizeMode = 'cover'): Promise<Uint8Array> {
  return decodeImageBuffer(await readInputFile(path, 'image'), size, resize, path);
}

/**
 * A file given to predict: a missing file or a folder is a usage error naming it (`noun`: image,
 * audio). At most MAX_IMAGE_BYTES are read, from a regular file or anything else (a pipe, a
 * device: /dev/zero never ends), and more is a DecodeError saying so.
 */
export async function readInputFile(path: string, noun: string): Promise<Buffer> {
  try {
    return await readFileBounded(path, MAX_IMAGE_BYTES);
  } catch (err) {
    if (err instanceof TooLargeError) throw new DecodeError(err.reason, path);
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
