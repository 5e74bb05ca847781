// What the three detection formats (COCO, VOC, YOLO) share once their files are parsed: finding
// and measuring images, clipping boxes to the image, and reporting what had to be dropped
// (a warning through onSkip, or under --strict the first problem as an error).
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { sharp } from '../../io/sharp.js';
import { tell } from '../../core/callbacks.js';
import { GraftError, usageError } from '../../core/errors.js';
import { decodeBmp, isBmp } from '../bmp.js';
import { IMAGE_EXTENSIONS } from '../images.js';
import type { Box, DetectionLoadOptions, DetectionSample, GroundTruth } from './types.js';

/** What reading detection data is called in onProgress. */
export const READING_DETECTION = 'reading detection data';

/** Drops and their reasons: a warning on every callback, or under `strict` the first one thrown (exit 1). */
export class Problems {
  constructor(private readonly o: DetectionLoadOptions) {}

  /** `path` is the annotation file; `reason` names the image or object dropped and why. */
  skip(path: string, reason: string): void {
    if (this.o.strict) throw new GraftError(`${path}: ${reason} (strict mode)`, 1);
    tell(this.o.callbacks, 'onSkip', { path, reason });
  }
}

/** Counted progress over the images of one load. */
export class Reading {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly o: DetectionLoadOptions,
  ) {
    tell(o.callbacks, 'onProgress', READING_DETECTION, 0, total);
  }
  tick(): void {
    this.done++;
    tell(this.o.callbacks, 'onProgress', READING_DETECTION, this.done, this.total);
  }
}

export const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether `path` is an existing file (a symlink to one counts). */
export async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** The first of `candidates` that is a file, or undefined. */
export async function firstFile(candidates: readonly string[]): Promise<string | undefined> {
  for (const c of candidates) if (await isFile(c)) return c;
  return undefined;
}

/** `dir/stem.ext` for every image extension, lower and upper case (camera files are often .JPG). */
export function imageCandidates(dir: string, stem: string): string[] {
  return IMAGE_EXTENSIONS.flatMap((ext) => [join(dir, stem + ext), join(dir, stem + ext.toUpperCase())]);
}

/** A file name without its extension. */
export const stemOf = (file: string) => basename(file, extname(file));

/** EXIF orientations 5-8 turn the image by 90°: graft decodes with sharp's `.rotate()`, so width and height swap. */
export const orientedSize = (width: number, height: number, orientation: number | undefined) =>
  orientation !== undefined && orientation >= 5 && orientation <= 8 ? { width: height, height: width } : { width, height };

/**
 * An image's width and height as graft decodes it (EXIF orientation applied), from its header;
 * a string saying why when the file cannot be read as an image.
 */
export async function imageSize(path: string): Promise<{ width: number; height: number } | string> {
  try {
    const meta = await sharp(path).metadata();
    if (meta.width && meta.height) return orientedSize(meta.width, meta.height, meta.orientation);
  } catch {
    // libvips has no BMP loader; graft reads BMP itself (src/data/bmp.ts).
  }
  try {
    const buf = await readFile(path);
    if (isBmp(buf)) {
      const { width, height } = decodeBmp(buf);
      return { width, height };
    }
  } catch {
    // Reported below.
  }
  return 'not a decodable image';
}

/** An object as a format read it: a category still to be looked up, a box in pixels. */
export interface RawObject {
  /** Index into the set's classes, or undefined when the category is unknown. */
  label: number | undefined;
  /** The category as the file wrote it, for the warning when it is unknown (e.g. `id 7`, `"dog"`). */
  category: string;
  box: Box;
  ignore: boolean;
  /** Names the object in a warning, e.g. "object 3" or "line 7". */
  what: string;
  /** Why the object cannot be read at all (a malformed line): dropped with this reason, in its turn. */
  problem?: string;
}

const fmt = (v: number) => (Number.isFinite(v) ? String(Math.round(v * 100) / 100) : String(v));

/**
 * The box clipped to a width x height image, or why it cannot be used: a coordinate that is not a
 * number, or less than 1 px of width or height left inside the image.
 */
export function clipBox(box: Box, width: number, height: number): Box | string {
  const shown = `[${box.map(fmt).join(', ')}]`;
  if (!box.every(Number.isFinite)) return `box ${shown} is not a number`;
  const [x, y, w, h] = box;
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(width, x + w);
  const y1 = Math.min(height, y + h);
  if (!(x1 - x0 >= 1 && y1 - y0 >= 1)) return `box ${shown} is degenerate (under 1 px wide or high inside the ${width}x${height} image)`;
  return [x0, y0, x1 - x0, y1 - y0];
}

/**
 * One sample from an image's raw objects: boxes clipped, unknown categories and degenerate boxes
 * dropped with a warning against `annotationFile` (the reason naming `imageName` and the object).
 * No objects left is a valid negative, not a warning.
 */
export function makeSample(
  file: string,
  width: number,
  height: number,
  objects: readonly RawObject[],
  annotationFile: string,
  imageName: string,
  problems: Problems,
): DetectionSample {
  const kept: GroundTruth[] = [];
  for (const ob of objects) {
    if (ob.problem !== undefined) {
      problems.skip(annotationFile, `${imageName}: ${ob.what} dropped: ${ob.problem}`);
      continue;
    }
    if (ob.label === undefined) {
      problems.skip(annotationFile, `${imageName}: ${ob.what} dropped: unknown category ${ob.category}`);
      continue;
    }
    const box = clipBox(ob.box, width, height);
    if (typeof box === 'string') {
      problems.skip(annotationFile, `${imageName}: ${ob.what} dropped: ${box}`);
      continue;
    }
    kept.push({ label: ob.label, box, ignore: ob.ignore });
  }
  return { file, width, height, objects: kept };
}

/** Class names from a classes.txt: one per line, blank lines and surrounding spaces ignored; none, or one twice, is a usage error. */
export async function readClassList(path: string): Promise<string[]> {
  const names = (await readFile(path, 'utf8'))
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  checkClassNames(names, path);
  return names;
}

/** Class names must be there and distinct (a label is an index into them). */
export function checkClassNames(names: readonly string[], where: string): void {
  if (names.length === 0) throw usageError(`${where}: no class names`);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw usageError(`${where}: class ${JSON.stringify(n)} is named twice`);
    seen.add(n);
  }
}
