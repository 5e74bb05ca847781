// Tiny on-disk data sets for tests, made with sharp: one colour per class plus noise (so a model
// can learn them), the awkward files real folders contain, and manifests.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../src/math/random.js';

export type Rgb = readonly [number, number, number];

/** Distinct, well-separated class colours (also distinct in luminance, for 1-channel tests). */
export const CLASS_COLOURS: readonly Rgb[] = [
  [220, 40, 40],
  [40, 60, 220],
  [40, 200, 60],
  [230, 210, 40],
  [200, 50, 200],
  [40, 210, 210],
];

export async function makeTempDir(prefix = 'graft-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** width x height RGB around `colour`, each channel jittered by up to +-noise. */
export function noisyPixels(width: number, height: number, colour: Rgb, seed = 1, noise = 30): Buffer {
  const rand = mulberry32(seed);
  const out = Buffer.alloc(width * height * 3);
  for (let i = 0; i < out.length; i++) {
    const v = colour[i % 3] + Math.round((rand() * 2 - 1) * noise);
    out[i] = Math.max(0, Math.min(255, v));
  }
  return out;
}

/** Encode RGB pixels as a bottom-up 24-bit BMP (which sharp cannot write). */
export function encodeBmp(rgb: Uint8Array, width: number, height: number): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + stride * height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      buf[row + x * 3] = rgb[s + 2];
      buf[row + x * 3 + 1] = rgb[s + 1];
      buf[row + x * 3 + 2] = rgb[s];
    }
  }
  return buf;
}

/** Write RGB pixels to `path`, encoded by its extension (any case): png, jpg/jpeg, webp, gif or bmp. */
export async function writeRgb(path: string, rgb: Uint8Array, width: number, height: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const ext = extname(path).slice(1).toLowerCase();
  if (ext === 'bmp') return writeFile(path, encodeBmp(rgb, width, height));
  const img = sharp(rgb, { raw: { width, height, channels: 3 } });
  const encoded =
    ext === 'png'
      ? img.png()
      : ext === 'jpg' || ext === 'jpeg'
        ? img.jpeg({ quality: 95 })
        : ext === 'webp'
          ? img.webp({ lossless: true })
          : ext === 'gif'
            ? img.gif()
            : undefined;
  if (!encoded) throw new Error(`fixtures: cannot write .${ext}`);
  await writeFile(path, await encoded.toBuffer());
}

export async function writeSolid(path: string, colour: Rgb, width = 32, height = 32, seed = 1, noise = 30): Promise<void> {
  await writeRgb(path, noisyPixels(width, height, colour, seed, noise), width, height);
}

/** A true 1-channel PNG of one grey level. */
export async function writeGrayscalePng(path: string, value: number, width = 16, height = 16): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const png = await sharp(Buffer.alloc(width * height, value), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  await writeFile(path, png);
}

/** 2x2 RGBA PNG: transparent, opaque red, half-transparent blue, transparent black. */
export async function writeRgbaPng(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const px = Buffer.from([0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 128, 0, 0, 0, 0]);
  await writeFile(
    path,
    await sharp(px, { raw: { width: 2, height: 2, channels: 4 } })
      .png()
      .toBuffer(),
  );
}

/** A 16-bit-per-channel RGB PNG filled with one 16-bit colour. */
export async function write16BitPng(path: string, colour16: Rgb, width = 8, height = 8): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const px = new Uint16Array(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = colour16[i % 3];
  const png = await sharp(px, { raw: { width, height, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  await writeFile(path, png);
}

/**
 * An 8 wide x 4 high JPEG, top half red and bottom half blue, tagged EXIF orientation 6
 * (display rotated 90 degrees clockwise): shown upright it is 4 wide x 8 high, left half blue, right half red.
 */
export async function writeExifRotatedJpeg(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const [w, h] = [8, 4];
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[(y * w + x) * 3 + (y < h / 2 ? 0 : 2)] = 255;
  const jpeg = await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  await writeFile(path, jpeg);
}

export interface ImageFolderOptions {
  /** Class folder names; default two, 'blue' and 'red'. */
  classes?: string[];
  /** Images per class (default 6). */
  perClass?: number;
  /** Square side in pixels (default 32). */
  size?: number;
  /** Extensions cycled through per image (default ['png']); mixed case allowed, e.g. 'JPG'. */
  extensions?: string[];
  /** Add bad files: zero-byte and corrupt .jpg and a .txt in the first class, and an empty class folder. */
  bad?: boolean;
  /** Seed for the noise (default 1). */
  seed?: number;
}

export interface ImageFolderFixture {
  root: string;
  /** Classes in the order graft should report them (sorted). */
  classes: string[];
  /** Good image paths per class. */
  files: Record<string, string[]>;
  /** Paths that should be reported as skipped (when `bad`). */
  bad: string[];
  /** The colour each class's images are made around. */
  colours: Record<string, Rgb>;
}

export const EMPTY_CLASS = 'zz-empty';

/** `root/<class>/<n>.<ext>`, as image_dataset_from_directory and ImageFolder read. */
export async function makeImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderFixture> {
  const classes = opts.classes ?? ['blue', 'red'];
  const perClass = opts.perClass ?? 6;
  const size = opts.size ?? 32;
  const extensions = opts.extensions ?? ['png'];
  const seed = opts.seed ?? 1;
  const files: Record<string, string[]> = {};
  const colours: Record<string, Rgb> = {};
  await mkdir(root, { recursive: true });
  for (const [c, cls] of classes.entries()) {
    // 'blue' and 'red' get their own colour, whatever their position.
    colours[cls] = cls === 'red' ? CLASS_COLOURS[0] : cls === 'blue' ? CLASS_COLOURS[1] : CLASS_COLOURS[(c + 2) % CLASS_COLOURS.length];
    files[cls] = [];
    for (let i = 0; i < perClass; i++) {
      const path = join(root, cls, `img${String(i).padStart(3, '0')}.${extensions[i % extensions.length]}`);
      await writeSolid(path, colours[cls], size, size, seed * 1000 + c * 100 + i);
      files[cls].push(path);
    }
  }
  const bad: string[] = [];
  if (opts.bad) {
    const dir = join(root, classes[0]);
    const empty = join(dir, 'zero-bytes.jpg');
    const corrupt = join(dir, 'corrupt.jpg');
    const text = join(dir, 'notes.txt');
    await writeFile(empty, '');
    await writeFile(corrupt, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) & 255)));
    await writeFile(text, 'not an image\n');
    await mkdir(join(root, EMPTY_CLASS));
    bad.push(empty, corrupt, text, join(root, EMPTY_CLASS));
  }
  return { root, classes: [...classes].sort(), files, bad, colours };
}

export interface SplitFolderOptions extends Omit<ImageFolderOptions, 'perClass' | 'bad'> {
  train?: number;
  /** Images per class in val/ (0: no val/ folder). */
  val?: number;
  /** Images per class in test/ (0: no test/ folder). */
  test?: number;
}

/** `root/{train,val,test}/<class>/…`; splits with 0 images are left out. */
export async function makeSplitFolder(
  root: string,
  opts: SplitFolderOptions = {},
): Promise<Record<'train' | 'val' | 'test', ImageFolderFixture | undefined>> {
  const counts = { train: opts.train ?? 6, val: opts.val ?? 3, test: opts.test ?? 3 };
  const out: Record<string, ImageFolderFixture | undefined> = {};
  let seed = opts.seed ?? 1;
  for (const split of ['train', 'val', 'test'] as const) {
    out[split] =
      counts[split] > 0 ? await makeImageFolder(join(root, split), { ...opts, perClass: counts[split], seed: seed++ }) : undefined;
  }
  return out as Record<'train' | 'val' | 'test', ImageFolderFixture | undefined>;
}

/** A manifest listing `rows`; CSV gets a header with `columns` (default path,label). */
export async function writeManifest(
  path: string,
  rows: Record<string, string | number>[],
  columns: string[] = ['path', 'label'],
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  if (extname(path).toLowerCase() === '.csv') {
    const quote = (v: string | number | undefined) => {
      const s = String(v ?? '');
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const lines = [columns.map(quote).join(','), ...rows.map((r) => columns.map((c) => quote(r[c])).join(','))];
    await writeFile(path, `${lines.join('\n')}\n`);
  } else {
    await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
}
