// An image in a page (an <img>, a canvas, ImageData, an ImageBitmap) as the uint8 HWC pixels graft
// feeds a model, in plain loops: read as RGBA from a canvas, alpha flattened onto white, resized
// as src/data/images.ts's sharp pipeline resizes for each mode ('cover', 'fill', 'contain', and a
// detector's letterbox as src/data/detection/render.ts places it), greyscale by data/luma.ts.
//
// The resampling is libvips' vips_resize (sharp's default: lanczos3 with a gap of 2) written again
// from its source (libvips 8.18: resize.c, reduceh/reducev, shrinkh/shrinkv, affine with the
// bicubic interpolator): box averaging by whole factors, lanczos3 masks tabulated every 1/64 pixel
// in 12-bit fixed point, bicubic enlargement, each rounded as libvips rounds, so that an image
// decoded to the same RGB comes out bit for bit as graft's (test/browser-pixels.test.ts checks it
// against sharp). What can still differ is decoding itself: a JPEG decoded by the browser is not
// libjpeg-turbo's to the bit, and sharp shrinks large JPEGs while decoding them; PNG, BMP and
// lossless WebP decode alike. EXIF orientation is the browser's (an <img> applies it, as graft does).
import type { Placement } from '../data/detection/geometry.js';
import { scaledSize } from '../data/detection/geometry.js';
import { toLuma } from '../data/luma.js';
import type { ImageSize, ResizeMode } from '../data/types.js';

/** What a page can hand a model: an image element, a canvas, its ImageData, or an ImageBitmap. */
export type PageImage = HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | ImageData | HTMLVideoElement;

/** An image's RGB pixels (uint8, HWC) at its own size. */
export interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

/** What graft flattens transparency onto (src/data/images.ts's ALPHA_BACKGROUND): white. */
const ALPHA_BACKGROUND = 255;

function sizeOf(image: Exclude<PageImage, ImageData>): { width: number; height: number } {
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement)
    return { width: image.naturalWidth, height: image.naturalHeight };
  if (typeof HTMLVideoElement !== 'undefined' && image instanceof HTMLVideoElement)
    return { width: image.videoWidth, height: image.videoHeight };
  return { width: image.width, height: image.height };
}

function canvas2d(width: number, height: number): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D {
  const canvas =
    typeof OffscreenCanvas !== 'undefined'
      ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement('canvas'), { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new Error('graft/browser: no 2D canvas to read the image with');
  return ctx;
}

/** The RGBA of an image at its own size (an <img> must have loaded). */
export function rgbaOf(image: PageImage): Pick<ImageData, 'width' | 'height' | 'data'> {
  // ImageData, or anything shaped like it (a worker's or a test's RGBA).
  if ('data' in image && image.data instanceof Uint8ClampedArray) return image;
  const { width, height } = sizeOf(image as Exclude<PageImage, ImageData>);
  if (!(width > 0 && height > 0))
    throw new Error('graft/browser: the image has no size (an <img> not loaded yet, or a video with no frame)');
  const ctx = canvas2d(width, height);
  ctx.drawImage(image as CanvasImageSource, 0, 0);
  return ctx.getImageData(0, 0, width, height);
}

/** RGBA as RGB with transparency flattened onto white, as sharp's flatten does (bit for bit). */
export function flatten(rgba: { width: number; height: number; data: ArrayLike<number> }): Rgb {
  const { width, height, data } = rgba;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
    const a = data[i + 3];
    if (a === 255) {
      out[j] = data[i];
      out[j + 1] = data[i + 1];
      out[j + 2] = data[i + 2];
    } else {
      // libvips' flatten of 8-bit pixels, rounding down.
      for (let c = 0; c < 3; c++) out[j + c] = Math.floor((data[i + c] * a + ALPHA_BACKGROUND * (255 - a)) / 255);
    }
  }
  return { width, height, data: out };
}

/** An image in a page as RGB at its own size. */
export const pageRgb = (image: PageImage): Rgb => flatten(rgbaOf(image));

// ---- resampling: libvips' vips_resize with its defaults (lanczos3, gap 2), as sharp calls it ----

/** libvips' fixed point: coefficients are 12-bit (VIPS_INTERPOLATE_SHIFT), positions 1/64 of a pixel (VIPS_TRANSFORM_SHIFT). */
const COEFF_SHIFT = 12;
const COEFF_SCALE = 1 << COEFF_SHIFT;
const POSITIONS = 64;
/** vips_resize's default gap: at least this much of the shrink is left to the kernel, the rest done by box averaging. */
const GAP = 2;

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const lanczos3 = (x: number) => (x >= -3 && x <= 3 ? sinc(x) * sinc(x / 3) : 0);

/** C's rint: to nearest, halves to even. */
function rint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** An image's rows as rows of its transpose, so one horizontal pass serves both axes. */
function transpose(src: Rgb): Rgb {
  const { width, height, data } = src;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = (x * height + y) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  return { width: height, height: width, data: out };
}

/** vips_shrinkh with ceil: each `factor` pixels averaged (fixed point, as libvips), the right edge extended by copying. */
function boxShrink(src: Rgb, factor: number): Rgb {
  const width = Math.ceil(src.width / factor);
  const out = new Uint8Array(width * src.height * 3);
  const multiplier = Math.floor(2 ** 32 / (256 * factor));
  const amend = Math.floor(factor / 2);
  for (let y = 0; y < src.height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        let sum = amend;
        for (let j = 0; j < factor; j++) sum += src.data[(y * src.width + Math.min(src.width - 1, x * factor + j)) * 3 + c];
        out[(y * width + x) * 3 + c] = Math.floor((sum * multiplier) / 2 ** 24);
      }
  return { width, height: src.height, data: out };
}

/** vips_reduceh: `src` reduced horizontally by `shrink` (at least 1) to round(width / shrink) pixels. */
function reduceRows(src: Rgb, shrink: number): Rgb {
  const width = Math.floor(src.width / shrink + 0.5);
  let extra = width * shrink - src.width;
  let residual = shrink;
  let cur = src;
  const factor = Math.max(1, Math.floor(src.width / width / GAP));
  if (factor > 1) {
    cur = boxShrink(cur, factor);
    residual /= factor;
    extra /= factor;
  }
  if (residual === 1) return cur;
  const n = 2 * rint(3 * residual) + 1;
  const offset = (1 + extra) / 2 - 1;
  // One mask per 1/64 pixel of position (65: both ends), each 12-bit fixed point, truncated as C's (short) cast does.
  const masks = Array.from({ length: POSITIONS + 1 }, (_, t) => {
    const half = t / POSITIONS + n / 2 - 1;
    const f = Array.from({ length: n }, (_, i) => lanczos3((i - half) / residual));
    const sum = f.reduce((a, b) => a + b, 0);
    return Int32Array.from(f, (v) => Math.trunc((v / sum) * COEFF_SCALE));
  });
  const pad = Math.ceil(n / 2) - 1;
  const out = new Uint8Array(width * cur.height * 3);
  const last = cur.width - 1;
  for (let y = 0; y < cur.height; y++) {
    const row = y * cur.width;
    let X = 0.5 * residual - 0.5 - offset;
    for (let x = 0; x < width; x++) {
      const ix = Math.trunc(X);
      const mask = masks[((Math.trunc(X * POSITIONS * 2) & (POSITIONS * 2 - 1)) + 1) >> 1];
      for (let c = 0; c < 3; c++) {
        let sum = COEFF_SCALE >> 1;
        for (let i = 0; i < n; i++) sum += mask[i] * cur.data[(row + Math.min(last, Math.max(0, ix + i - pad))) * 3 + c];
        const v = sum >> COEFF_SHIFT;
        out[(y * width + x) * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      X += residual;
    }
  }
  return { width, height: cur.height, data: out };
}

/** Catmull-Rom at `x` in [0, 1] as libvips' bicubic interpolator tabulates it (12-bit, truncated). */
function catmullRom(x: number): Int32Array {
  const a = 1 - x;
  const b = -0.5 * x;
  const ab = a * b;
  const c0 = a * ab;
  const c3 = x * ab;
  const d = c3 - c0;
  return Int32Array.from([c0, a - c0 + d, x - c3 - d, c3], (v) => Math.trunc(v * COEFF_SCALE));
}

const CUBIC = Array.from({ length: POSITIONS + 1 }, (_, t) => catmullRom(t / POSITIONS));

/**
 * vips_affine by `sx` x `sy` (at least 1 each) with the bicubic interpolator, as vips_resize
 * enlarges: output pixel (x, y) samples the input at (x / sx - 0.5, y / sy - 0.5) (so an axis at
 * scale 1 is sampled half a pixel up and left, as libvips does), edges extended by copying, rows
 * then columns each rounded in 12-bit fixed point.
 */
function enlarge(src: Rgb, sx: number, sy: number): Rgb {
  const roundInt = (v: number) => Math.trunc(v + 0.5);
  const width = roundInt(src.width * sx);
  const height = roundInt(src.height * sy);
  const inv = 1 / (sx * sy);
  const ia = inv * sy;
  const id = inv * sx;
  const out = new Uint8Array(width * height * 3);
  const px = (x: number, y: number, c: number) =>
    src.data[(Math.min(src.height - 1, Math.max(0, y)) * src.width + Math.min(src.width - 1, Math.max(0, x))) * 3 + c];
  // Coordinates in libvips' embedded input, whose pixel 0 is the image's pixel -2.
  const fraction = (v: number) => CUBIC[((Math.trunc(v * POSITIONS * 2) & (POSITIONS * 2 - 1)) + 1) >> 1];
  const rows = new Int32Array(4);
  for (let y = 0; y < height; y++) {
    const Y = id * y + 0.5 + 1;
    const iy = Math.trunc(Y) - 3;
    const ky = fraction(Y);
    let X = 0.5 + 1;
    for (let x = 0; x < width; x++) {
      const ix = Math.trunc(X) - 3;
      const kx = fraction(X);
      for (let c = 0; c < 3; c++) {
        for (let j = 0; j < 4; j++) {
          let sum = 0;
          for (let i = 0; i < 4; i++) sum += kx[i] * px(ix + i, iy + j, c);
          rows[j] = (sum + (COEFF_SCALE >> 1)) >> COEFF_SHIFT;
        }
        const v = (ky[0] * rows[0] + ky[1] * rows[1] + ky[2] * rows[2] + ky[3] * rows[3] + (COEFF_SCALE >> 1)) >> COEFF_SHIFT;
        out[(y * width + x) * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      X += ia;
    }
  }
  return { width, height, data: out };
}

/**
 * `src` resized by libvips' vips_resize as sharp calls it (scale 1 / `hshrink`, vscale 1 /
 * `vshrink`; by default the ratios of the sizes): vertical reduction, then horizontal (each box
 * averaging by whole factors, then lanczos3 in 12-bit fixed point), then any enlargement
 * (bicubic), each as libvips computes it, bit for bit.
 */
export function resample(src: Rgb, width: number, height: number, hshrink = src.width / width, vshrink = src.height / height): Rgb {
  // sharp hands vips_resize a scale, which hands reduce its inverse again.
  // …and keeps at least one pixel on either axis.
  const h = 1 / Math.max(1 / hshrink, 1 / src.width);
  const v = 1 / Math.max(1 / vshrink, 1 / src.height);
  let cur = src;
  if (v > 1) cur = transpose(reduceRows(transpose(cur), v));
  if (h > 1) cur = reduceRows(cur, h);
  if (h < 1 || v < 1) cur = enlarge(cur, Math.max(1, 1 / h), Math.max(1, 1 / v));
  if (cur.width !== width || cur.height !== height)
    throw new Error(`graft/browser: resized to ${cur.width}x${cur.height}, not ${width}x${height}`);
  return cur;
}

/** The `width` x `height` window of `src` at (left, top), which lies inside it. */
function crop(src: Rgb, left: number, top: number, width: number, height: number): Rgb {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * src.width + left) * 3;
    out.set(src.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/** `src` pasted at (left, top) on a black `width` x `height` canvas, cropped to it. */
function embed(src: Rgb, left: number, top: number, width: number, height: number): Rgb {
  const out = new Uint8Array(width * height * 3);
  const x0 = Math.max(0, left);
  const x1 = Math.min(width, left + src.width);
  for (let y = Math.max(0, top); y < Math.min(height, top + src.height); y++) {
    if (x1 <= x0) break;
    const from = ((y - top) * src.width + (x0 - left)) * 3;
    out.set(src.data.subarray(from, from + (x1 - x0) * 3), (y * width + x0) * 3);
  }
  return { width, height, data: out };
}

const toChannels = (rgb: Rgb, channels: 1 | 3): Uint8Array => (channels === 1 ? toLuma(rgb.data) : rgb.data);

/**
 * RGB brought to a classifier's input as sharp's resize({ fit, position: 'centre' }) does:
 * 'cover' scales to cover the input and crops the centre, 'fill' stretches, 'contain' scales to
 * fit and pads with black, centred.
 */
export function fitToInput(src: Rgb, size: ImageSize, mode: ResizeMode): Uint8Array {
  const { width: W, height: H } = size;
  if (src.width === W && src.height === H) return toChannels(src, size.channels);
  if (mode === 'fill') return toChannels(resample(src, W, H), size.channels);
  // One shrink for both axes (libvips' resize by a scale): the sizes follow from it, rounded.
  const shrink = mode === 'cover' ? Math.min(src.width / W, src.height / H) : Math.max(src.width / W, src.height / H);
  const round = (v: number, limit: number) =>
    mode === 'cover' ? Math.max(limit, Math.round(v)) : Math.min(limit, Math.max(1, Math.round(v)));
  const w = round(src.width / shrink, W);
  const h = round(src.height / shrink, H);
  const scaled = resample(src, w, h, shrink, shrink);
  const out =
    mode === 'cover'
      ? crop(scaled, Math.floor((w - W + 1) / 2), Math.floor((h - H + 1) / 2), W, H)
      : embed(scaled, Math.floor((W - w) / 2), Math.floor((H - h) / 2), W, H);
  return toChannels(out, size.channels);
}

/** RGB placed on a detector's canvas as render.ts's renderPlaced places it (letterbox: no flip). */
export function placeOnCanvas(src: Rgb, p: Placement, channels: 1 | 3): Uint8Array {
  const size = scaledSize(src, p.scale);
  const scaled = size.width === src.width && size.height === src.height ? src : resample(src, size.width, size.height);
  const placed = embed(scaled, p.dx, p.dy, p.width, p.height);
  if (p.flip) throw new Error('graft/browser: a flipped placement is training augmentation, not prediction');
  return toChannels(placed, channels);
}
