// An image in a page (an <img>, a canvas, ImageData, an ImageBitmap) as the uint8 HWC pixels graft
// feeds a model, in plain loops: read as RGBA from a canvas, alpha flattened onto white, resized
// as src/data/images.ts's sharp pipeline resizes for each mode ('cover', 'fill', 'contain', and a
// detector's letterbox as src/data/detection/render.ts places it), greyscale by data/luma.ts.
//
// The resampling is libvips' reduce (sharp's default kernel, lanczos3), written again: a separable
// filter, vertical pass first, each pass rounded to 8 bits, the kernel widened by the shrink
// factor when shrinking, edges extended by copying. It follows libvips' arithmetic closely but not
// bit for bit (libvips quantises its coefficients and their positions, and shrinks large factors
// with a box filter first), so a resized image may differ from graft's by a level here and there;
// an image already at the model's input size is not resampled and its pixels are graft's exactly.
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
export function rgbaOf(image: PageImage): ImageData {
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) return image;
  const { width, height } = sizeOf(image as Exclude<PageImage, ImageData>);
  if (!(width > 0 && height > 0))
    throw new Error('graft/browser: the image has no size (an <img> not loaded yet, or a video with no frame)');
  const ctx = canvas2d(width, height);
  ctx.drawImage(image as CanvasImageSource, 0, 0);
  return ctx.getImageData(0, 0, width, height);
}

/** RGBA as RGB with transparency flattened onto white, as sharp's flatten does. */
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
      const f = a / 255;
      for (let c = 0; c < 3; c++) out[j + c] = Math.round(data[i + c] * f + ALPHA_BACKGROUND * (1 - f));
    }
  }
  return { width, height, data: out };
}

/** An image in a page as RGB at its own size. */
export const pageRgb = (image: PageImage): Rgb => flatten(rgbaOf(image));

// ---- resampling ----

const LANCZOS = 3;

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -LANCZOS || x >= LANCZOS) return 0;
  const px = Math.PI * x;
  return (LANCZOS * Math.sin(px) * Math.sin(px / LANCZOS)) / (px * px);
}

/** For each output position along an axis: the first input index and the normalised weights. */
function weights(inLen: number, outLen: number, shrink: number): { first: Int32Array; taps: number; w: Float64Array } {
  const support = LANCZOS * Math.max(1, shrink);
  const taps = 2 * Math.ceil(support) + 1;
  const first = new Int32Array(outLen);
  const w = new Float64Array(outLen * taps);
  for (let o = 0; o < outLen; o++) {
    // libvips centres the output on the input: what the rounded size overhangs is split between the two ends.
    const centre = (o + 0.5) * shrink - 0.5 - (outLen * shrink - inLen) / 2;
    const start = Math.floor(centre) - Math.ceil(support) + 0;
    first[o] = start;
    let sum = 0;
    for (let t = 0; t < taps; t++) {
      const v = lanczos3((start + t - centre) / Math.max(1, shrink));
      w[o * taps + t] = v;
      sum += v;
    }
    for (let t = 0; t < taps; t++) w[o * taps + t] /= sum;
  }
  return { first, taps, w };
}

const clampByte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/**
 * `src` (w x h x 3) resampled to `width` x `height`, an input pixel every `hshrink` (`vshrink`)
 * output pixels (default: the ratio of the sizes): vertical pass, then horizontal, each rounded to 8 bits.
 */
export function resample(src: Rgb, width: number, height: number, hshrink = src.width / width, vshrink = src.height / height): Rgb {
  let cur = src;
  if (height !== cur.height || vshrink !== 1) {
    const { first, taps, w } = weights(cur.height, height, vshrink);
    const out = new Uint8Array(cur.width * height * 3);
    const rowLen = cur.width * 3;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < rowLen; x++) {
        let acc = 0;
        for (let t = 0; t < taps; t++) {
          const sy = Math.min(cur.height - 1, Math.max(0, first[y] + t));
          acc += w[y * taps + t] * cur.data[sy * rowLen + x];
        }
        out[y * rowLen + x] = clampByte(acc);
      }
    cur = { width: cur.width, height, data: out };
  }
  if (width !== cur.width || hshrink !== 1) {
    const { first, taps, w } = weights(cur.width, width, hshrink);
    const out = new Uint8Array(width * cur.height * 3);
    for (let y = 0; y < cur.height; y++)
      for (let x = 0; x < width; x++)
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let t = 0; t < taps; t++) {
            const sx = Math.min(cur.width - 1, Math.max(0, first[x] + t));
            acc += w[x * taps + t] * cur.data[(y * cur.width + sx) * 3 + c];
          }
          out[(y * width + x) * 3 + c] = clampByte(acc);
        }
    cur = { width, height: cur.height, data: out };
  }
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
