// The pixels of a Placement (geometry.ts): an image decoded as src/data/images.ts decodes it,
// scaled, placed on a black canvas, cropped and mirrored exactly as placeBox moves its boxes.
// And the other way round, for people: boxes drawn over an image (`eval --draw`, `predict --draw`).
import { extname } from 'node:path';
import type { OutputInfo, Sharp } from 'sharp';
import { sharp } from '../../io/sharp.js';
import { usageError } from '../../core/errors.js';
import { writeFileAtomically } from '../../io/atomic.js';
import { checkDestination } from '../../io/destination.js';
import { hashString } from '../../math/random.js';
import { ALPHA_BACKGROUND, DecodeError, open as openImage, readInputFile, shortReason, toLuma } from '../images.js';
import { scaledSize, type Placement, type Size } from './geometry.js';
import type { Box } from './types.js';

/** The bytes of `file` (or `file` itself), read as every image input is: bounded, a missing file a usage error. */
async function readImage(file: string | Uint8Array): Promise<{ buf: Uint8Array; where: string }> {
  if (typeof file !== 'string') return { buf: file, where: 'image' };
  return { buf: await readInputFile(file, 'image'), where: file };
}

/** The image's size as seen (EXIF orientation applied). */
async function orientedSize(image: Sharp): Promise<Size> {
  const meta = await image.metadata();
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new Error('image has no size');
  return { width, height };
}

/**
 * Copy the scaled image (`scaled`, `sw` x `sh` RGB) onto a black canvas at (dx, dy), keeping what
 * falls on the canvas, mirrored when `flip`: the canvas column c shows the unmirrored column W-1-c,
 * which is geometry's x -> W - x for pixel edges.
 */
function place(scaled: Uint8Array, sw: number, sh: number, p: Placement): Uint8Array {
  const W = p.width;
  const canvas = new Uint8Array(W * p.height * 3);
  const x0 = Math.max(0, p.dx);
  const x1 = Math.min(W, p.dx + sw);
  const y0 = Math.max(0, p.dy);
  const y1 = Math.min(p.height, p.dy + sh);
  if (x1 <= x0 || y1 <= y0) return canvas;
  for (let y = y0; y < y1; y++) {
    const from = ((y - p.dy) * sw + (x0 - p.dx)) * 3;
    const row = y * W * 3;
    if (!p.flip) {
      canvas.set(scaled.subarray(from, from + (x1 - x0) * 3), row + x0 * 3);
      continue;
    }
    for (let x = x0, s = from; x < x1; x++, s += 3) {
      const d = row + (W - 1 - x) * 3;
      canvas[d] = scaled[s];
      canvas[d + 1] = scaled[s + 1];
      canvas[d + 2] = scaled[s + 2];
    }
  }
  return canvas;
}

/**
 * The canvas of `p` (p.height x p.width x channels, uint8 HWC): the image decoded as
 * decodeImageBuffer decodes it (EXIF-rotated, alpha on white, sRGB, greyscale by luma), resized to
 * round(w * scale) x round(h * scale), placed at (dx, dy) on black, cropped to the canvas and
 * mirrored when p.flip. Boxes moved by placeBox land on the same pixels, to within half a pixel
 * (see geometry.ts). Throws DecodeError when the bytes are not a usable image.
 */
export async function renderPlaced(file: string | Uint8Array, p: Placement, channels: 1 | 3): Promise<Uint8Array> {
  if (!(Number.isInteger(p.width) && Number.isInteger(p.height) && p.width > 0 && p.height > 0)) {
    throw new RangeError(`canvas must be whole positive pixels, got ${p.width}x${p.height}`);
  }
  if (!(p.scale > 0 && Number.isFinite(p.scale)) || !Number.isInteger(p.dx) || !Number.isInteger(p.dy)) {
    throw new RangeError(`placement needs a positive scale and integer offsets, got scale ${p.scale} at (${p.dx}, ${p.dy})`);
  }
  const { buf, where } = await readImage(file);
  let rgb: Uint8Array;
  let size: Size;
  try {
    const image = openImage(buf);
    size = scaledSize(await orientedSize(image), p.scale);
    const { data, info } = await image
      .flatten({ background: ALPHA_BACKGROUND })
      .resize({ width: size.width, height: size.height, fit: 'fill' })
      // sRGB also brings 16-bit, greyscale and CMYK input to 8-bit RGB (as images.ts).
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size.width || info.height !== size.height) {
      throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
    }
    rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    throw new DecodeError(shortReason(err), where);
  }
  const canvas = place(rgb, size.width, size.height, p);
  return channels === 1 ? toLuma(canvas) : canvas;
}

// ---- drawing boxes for people ----

export interface DrawnBox {
  /** In pixels of the image as seen (EXIF orientation applied). */
  box: Box;
  label: string;
  /** Shown as a percentage after the label (`pedestrian 93%`). */
  score?: number;
  /** Default 'prediction': solid, a colour per class. 'truth': dashed, in TRUTH_COLOUR. */
  kind?: 'truth' | 'prediction';
}

/** Ground truth's colour (green, which PREDICTION_COLOURS leave out). */
export const TRUTH_COLOUR = '#00e05a';
/** Predictions' colours; a class keeps its colour from image to image (chosen by a hash of its name). */
export const PREDICTION_COLOURS: readonly string[] = [
  '#e6194b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#f032e6',
  '#42d4f4',
  '#ffe119',
  '#9a6324',
  '#800000',
  '#000075',
];

export const colourFor = (label: string, kind: 'truth' | 'prediction' = 'prediction'): string =>
  kind === 'truth' ? TRUTH_COLOUR : PREDICTION_COLOURS[hashString(label) % PREDICTION_COLOURS.length];

const FORMATS: Record<string, 'jpeg' | 'png' | 'webp'> = { '.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png', '.webp': 'webp' };

const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

/** Black or white, whichever reads better on `hex`. */
function textOn(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  const luma = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return luma > 140 ? '#000000' : '#ffffff';
}

const num = (x: number): string => String(Math.round(x * 100) / 100);

/** Strokes and lettering in proportion to the image: 2 px and 11 px type up to about 320 px, more above. */
export function drawingScale(size: Size): { stroke: number; font: number } {
  const longer = Math.max(size.width, size.height);
  return { stroke: Math.max(2, Math.round(longer / 320)), font: Math.max(11, Math.round(longer / 45)) };
}

function overlay(size: Size, boxes: readonly DrawnBox[]): string {
  const { stroke, font } = drawingScale(size);
  const pad = Math.max(2, Math.round(font / 4));
  const tagH = font + 2 * pad;
  // Truth first, so predictions are drawn over it; every tag after every rectangle, so no line crosses a label.
  const ordered = [...boxes.filter((b) => b.kind === 'truth'), ...boxes.filter((b) => b.kind !== 'truth')];
  const rects: string[] = [];
  const tags: string[] = [];
  for (const b of ordered) {
    const truth = b.kind === 'truth';
    const colour = colourFor(b.label, truth ? 'truth' : 'prediction');
    const [x, y, w, h] = b.box;
    const dash = truth ? ` stroke-dasharray="${stroke * 4},${stroke * 3}"` : '';
    rects.push(
      `<rect x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" fill="none" stroke="${colour}" stroke-width="${stroke}"${dash}/>`,
    );
    const text = b.score === undefined ? b.label : `${b.label} ${Math.round(b.score * 100)}%`;
    // DejaVu Sans averages a little over 0.6 em a character.
    const tagW = Math.ceil(text.length * font * 0.62) + 2 * pad;
    const left = Math.max(0, Math.min(x - stroke / 2, size.width - tagW));
    // A prediction's tag sits above its box, the truth's below (so a match shows both); inside the box at the image's edge.
    let top = truth ? y + h + stroke / 2 : y - stroke / 2 - tagH;
    if (top < 0) top = y + stroke / 2;
    if (top + tagH > size.height) top = Math.max(0, y + h - stroke / 2 - tagH);
    tags.push(
      `<rect x="${num(left)}" y="${num(top)}" width="${tagW}" height="${tagH}" fill="${colour}"/>` +
        `<text x="${num(left + pad)}" y="${num(top + pad + font * 0.8)}" font-family="sans-serif" font-size="${font}" fill="${textOn(colour)}">${escapeXml(text)}</text>`,
    );
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}">` +
    rects.join('') +
    tags.join('') +
    '</svg>'
  );
}

/**
 * Write `image` at its own size (EXIF orientation applied, alpha on white) with each box drawn as
 * a rectangle and a tag holding its label and score: predictions solid in a colour per class,
 * ground truth dashed in TRUTH_COLOUR. The format follows `out`'s extension (.jpg, .jpeg, .png,
 * .webp); the file appears whole or not at all, and replaces one already at `out` only with `force`.
 */
export async function drawBoxes(image: string | Uint8Array, boxes: readonly DrawnBox[], out: string, force = false): Promise<void> {
  const format = FORMATS[extname(out).toLowerCase()];
  if (!format) throw usageError(`cannot tell the image format of ${out}: use .jpg, .jpeg, .png or .webp`);
  // Refused before the image is read and drawn, not after.
  checkDestination(out, { kind: 'file', force });
  const { buf, where } = await readImage(image);
  let pixels: { data: Buffer; info: OutputInfo };
  try {
    pixels = await openImage(buf)
      .flatten({ background: ALPHA_BACKGROUND })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new DecodeError(shortReason(err), where);
  }
  const { width, height, channels } = pixels.info;
  const svg = overlay({ width, height }, boxes);
  let encoded = sharp(pixels.data, { raw: { width, height, channels } }).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  encoded = format === 'jpeg' ? encoded.jpeg({ quality: 90 }) : format === 'png' ? encoded.png() : encoded.webp({ quality: 90 });
  await writeFileAtomically(out, await encoded.toBuffer(), force);
}
