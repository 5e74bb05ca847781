// Where an image and its boxes land on the model's input (the canvas): letterboxing for
// prediction and evaluation, random scale, crop and flip for training. Pure arithmetic: render.ts
// draws the pixels with the same Placement, and a detector's output goes back through unplaceBox.
//
// Coordinates are continuous, in pixels, with pixel edges on the integers: the pixel at column c
// covers [c, c + 1), so an image w pixels wide spans [0, w] and a box [x, y, w, h] spans
// [x, x + w] x [y, y + h]. A horizontal flip of a canvas W wide maps x to W - x.
//
// Pixels and boxes agree. render.ts resizes the image to round(w * scale) x round(h * scale)
// (whole pixels), so the scale the pixels actually get per axis is round(w * scale) / w, while
// placeBox uses `scale` itself. The difference at a point x of the original is
// x * (round(w * scale) / w - scale), at most half a pixel at the far edge of the image and less
// everywhere else. letterbox's scale makes the limiting side exact (w * scale is W), and
// randomPlacement snaps its scale so that the longer side is a whole number of pixels, leaving
// only the other side's (at most) half pixel.
import type { Box, GroundTruth } from './types.js';

export interface Size {
  width: number;
  height: number;
}

/**
 * How the original image sits on the canvas (the model's input, `width` x `height`): a point
 * (x, y) of the original goes to x' = x * scale + dx, y' = y * scale + dy, then, with `flip`,
 * x' = width - x'.
 */
export interface Placement {
  scale: number;
  /** Integer offsets of the scaled image's top-left corner on the canvas (negative when cropped). */
  dx: number;
  dy: number;
  /** Mirrored left to right after placing. */
  flip: boolean;
  /** The canvas, in pixels. */
  width: number;
  height: number;
}

export interface RandomPlacementOptions {
  /** Range of the scale, relative to the letterbox scale (uniform); default [0.6, 1.4]. */
  scale?: [number, number];
  /** Mirror with probability 0.5; default true. */
  flip?: boolean;
}

export interface PlaceObjectsOptions {
  /** A box is kept when at least this fraction of its placed area is on the canvas; default 0.35. */
  minVisible?: number;
}

export const DEFAULT_SCALE_RANGE: readonly [number, number] = [0.6, 1.4];
export const DEFAULT_MIN_VISIBLE = 0.35;

function checkSize(what: string, s: Size): void {
  if (!(Number.isInteger(s.width) && Number.isInteger(s.height) && s.width > 0 && s.height > 0)) {
    throw new RangeError(`${what} must be whole positive pixels, got ${s.width}x${s.height}`);
  }
}

/** The size, in whole pixels, the image is resized to for `scale` (what render.ts produces). */
export function scaledSize(src: Size, scale: number): Size {
  return { width: Math.max(1, Math.round(src.width * scale)), height: Math.max(1, Math.round(src.height * scale)) };
}

/** The whole image, aspect kept, centred on the canvas; the padding is split evenly (the odd pixel right and below). */
export function letterbox(src: Size, canvas: Size): Placement {
  checkSize('image', src);
  checkSize('canvas', canvas);
  const scale = Math.min(canvas.width / src.width, canvas.height / src.height);
  const scaled = scaledSize(src, scale);
  return {
    scale,
    dx: Math.floor((canvas.width - scaled.width) / 2),
    dy: Math.floor((canvas.height - scaled.height) / 2),
    flip: false,
    width: canvas.width,
    height: canvas.height,
  };
}

/** An integer offset in [min(0, room), max(0, room)]: inside the canvas when the image is smaller, a crop of it when larger. */
function offset(room: number, rand: () => number): number {
  const lo = Math.min(0, room);
  const hi = Math.max(0, room);
  return lo + Math.min(hi - lo, Math.floor(rand() * (hi - lo + 1)));
}

/**
 * A training placement: the letterbox scale times a factor drawn from `scale`, a random integer
 * offset per axis (a scaled image smaller than the canvas lies wholly inside it, a larger one is
 * randomly cropped by it) and, with `flip`, a mirror with probability 0.5. Draws exactly four
 * numbers from `rand`, in order: scale, flip, x offset, y offset.
 */
export function randomPlacement(src: Size, canvas: Size, rand: () => number, o: RandomPlacementOptions = {}): Placement {
  checkSize('image', src);
  checkSize('canvas', canvas);
  const [lo, hi] = o.scale ?? DEFAULT_SCALE_RANGE;
  if (!(lo > 0 && hi >= lo && Number.isFinite(hi))) throw new RangeError(`scale range must be 0 < low <= high, got [${lo}, ${hi}]`);
  const base = Math.min(canvas.width / src.width, canvas.height / src.height);
  const wanted = base * (lo + (hi - lo) * rand());
  // Snapped so that the longer side scales to whole pixels (see the top of this file).
  const longer = Math.max(src.width, src.height);
  const scale = Math.max(1, Math.round(longer * wanted)) / longer;
  const flip = rand() < 0.5 && o.flip !== false;
  const scaled = scaledSize(src, scale);
  const dx = offset(canvas.width - scaled.width, rand);
  const dy = offset(canvas.height - scaled.height, rand);
  return { scale, dx, dy, flip, width: canvas.width, height: canvas.height };
}

/** A box of the original image on the canvas; not clipped (placeObjects clips). */
export function placeBox(box: Box, p: Placement): Box {
  const [x, y, w, h] = box;
  const left = x * p.scale + p.dx;
  const top = y * p.scale + p.dy;
  const width = w * p.scale;
  const height = h * p.scale;
  return [p.flip ? p.width - (left + width) : left, top, width, height];
}

/** [lo, hi] clipped to [0, max]; an interval wholly outside collapses onto the nearer edge. */
function clip(lo: number, hi: number, max: number): [number, number] {
  const a = Math.min(Math.max(lo, 0), max);
  const b = Math.min(Math.max(hi, 0), max);
  return [a, Math.max(a, b)];
}

/**
 * A box on the canvas (a detector's output) back in pixels of the original image, clipped to it;
 * a box wholly off the image comes back with zero width or height.
 */
export function unplaceBox(box: Box, p: Placement, src: Size): Box {
  const [x, y, w, h] = box;
  const left = p.flip ? p.width - (x + w) : x;
  const [x0, x1] = clip((left - p.dx) / p.scale, (left + w - p.dx) / p.scale, src.width);
  const [y0, y1] = clip((y - p.dy) / p.scale, (y + h - p.dy) / p.scale, src.height);
  return [x0, y0, x1 - x0, y1 - y0];
}

/**
 * The objects as they are on the canvas: boxes placed and clipped to it. An object is dropped
 * when less than `minVisible` of its placed area is on the canvas, or when what remains is
 * narrower or shorter than one pixel. Labels and `ignore` are kept.
 */
export function placeObjects(objects: readonly GroundTruth[], p: Placement, o: PlaceObjectsOptions = {}): GroundTruth[] {
  const minVisible = o.minVisible ?? DEFAULT_MIN_VISIBLE;
  const out: GroundTruth[] = [];
  for (const obj of objects) {
    const [x, y, w, h] = placeBox(obj.box, p);
    const [x0, x1] = clip(x, x + w, p.width);
    const [y0, y1] = clip(y, y + h, p.height);
    const cw = x1 - x0;
    const ch = y1 - y0;
    if (cw < 1 || ch < 1 || cw * ch < minVisible * w * h) continue;
    out.push({ label: obj.label, box: [x0, y0, cw, ch], ignore: obj.ignore });
  }
  return out;
}
