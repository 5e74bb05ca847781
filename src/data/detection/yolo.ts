// YOLO (Ultralytics, Darknet, labelImg's YOLO mode): images/**/NAME.ext with labels/**/NAME.txt
// beside them in a parallel tree (images/train/a.jpg <-> labels/train/a.txt), one object a line as
// `class cx cy w h`, normalised to the image's width and height. Class names come from data.yaml's
// `names:` (a list or an {index: name} map) or a classes.txt.
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { usageError } from '../../core/errors.js';
import { walk } from '../folder.js';
import {
  byCodePoint,
  checkClassNames,
  firstFile,
  imageSize,
  isFile,
  makeSample,
  Problems,
  type RawObject,
  Reading,
  readClassList,
  stemOf,
} from './clean.js';
import type { Box, DetectionLoadOptions, DetectionSample, DetectionSet } from './types.js';

export const YOLO_IMAGES = 'images';
export const YOLO_LABELS = 'labels';
const CLASS_FILE = 'classes.txt';

/** Class names from data.yaml's `names:`, as a list or as an {index: name} map with indices 0..n-1. */
async function namesFromYaml(path: string): Promise<string[]> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(path, 'utf8'));
  } catch (err) {
    throw usageError(`${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const names = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).names : undefined;
  const asName = (v: unknown, at: string): string => {
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    throw usageError(`${path}: names ${at} is not a class name`);
  };
  if (Array.isArray(names)) return names.map((v, i) => asName(v, `[${i}]`));
  if (typeof names === 'object' && names !== null) {
    const entries = Object.entries(names as Record<string, unknown>);
    const out: string[] = new Array(entries.length);
    for (const [k, v] of entries) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length)
        throw usageError(`${path}: names has key ${k}; a map must be keyed 0..${entries.length - 1}`);
      out[i] = asName(v, k);
    }
    return out;
  }
  throw usageError(`${path}: expected names: as a list of class names or an {index: name} map`);
}

/** data.yaml (or data.yml) at the root, else a classes.txt at the root or in labels/. */
async function yoloClasses(root: string): Promise<{ classes: string[]; from: string }> {
  const yaml = await firstFile([join(root, 'data.yaml'), join(root, 'data.yml')]);
  if (yaml) return { classes: await namesFromYaml(yaml), from: yaml };
  const txt = await firstFile([join(root, CLASS_FILE), join(root, YOLO_LABELS, CLASS_FILE)]);
  if (txt) return { classes: await readClassList(txt), from: txt };
  throw usageError(`${root}: YOLO data needs its class names, in data.yaml (names:) or ${CLASS_FILE} (one a line)`);
}

/** A label line's box in pixels: `cx cy w h`, or a polygon (Ultralytics' segment labels) as its bounding box. */
function lineBox(coords: number[], width: number, height: number): Box | undefined {
  if (coords.length === 4) {
    const [cx, cy, w, h] = coords;
    return [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height];
  }
  if (coords.length >= 6 && coords.length % 2 === 0) {
    const xs = coords.filter((_, i) => i % 2 === 0);
    const ys = coords.filter((_, i) => i % 2 === 1);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    return [x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height];
  }
  return undefined;
}

/** A label file's objects, one a line; a line that is not `class cx cy w h` carries its problem (makeSample drops it with a warning). */
function parseLabels(text: string, classes: readonly string[], width: number, height: number): RawObject[] {
  const objects: RawObject[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const fields = line.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) return;
    const what = `line ${i + 1}`;
    const box = lineBox(fields.slice(1).map(Number), width, height);
    const c = Number(fields[0]);
    const known = Number.isInteger(c) && c >= 0 && c < classes.length;
    objects.push({
      label: known ? c : undefined,
      category: `${JSON.stringify(fields[0])} (classes are 0..${classes.length - 1})`,
      box: box ?? [NaN, NaN, NaN, NaN],
      ignore: false,
      what,
      problem: box ? undefined : `expected "class cx cy w h", got ${JSON.stringify(line.trim())}`,
    });
  });
  return objects;
}

/** A YOLO folder (images/ and labels/, optionally with train/, val/... below each) as a DetectionSet. */
export async function loadYolo(root: string, o: DetectionLoadOptions = {}): Promise<DetectionSet> {
  const imagesDir = join(root, YOLO_IMAGES);
  const labelsDir = join(root, YOLO_LABELS);
  for (const d of [imagesDir, labelsDir]) {
    if (!(await stat(d).catch(() => undefined))?.isDirectory())
      throw usageError(`${root}: YOLO data needs ${YOLO_IMAGES}/ and ${YOLO_LABELS}/ folders`);
  }
  const { classes, from } = await yoloClasses(root);
  checkClassNames(classes, from);
  const images: string[] = [];
  await walk(imagesDir, images, []);
  images.sort(byCodePoint);
  const labelFiles: string[] = [];
  const others: string[] = [];
  await walk(labelsDir, [], others);
  for (const f of others) if (extname(f).toLowerCase() === '.txt' && relative(labelsDir, f) !== CLASS_FILE) labelFiles.push(f);

  const labelFor = (image: string) => join(labelsDir, dirname(relative(imagesDir, image)), `${stemOf(image)}.txt`);
  const problems = new Problems(o);

  // Label files with no image: the image is missing.
  const expected = new Set(images.map(labelFor));
  for (const f of labelFiles.sort(byCodePoint)) {
    if (expected.has(f)) continue;
    const rel = join(dirname(relative(labelsDir, f)), stemOf(f));
    problems.skip(f, `image ${join(YOLO_IMAGES, rel)}.* dropped: file not found`);
  }

  const samples: DetectionSample[] = [];
  const reading = new Reading(images.length, o);
  for (const image of images) {
    const label = labelFor(image);
    const hasLabel = await isFile(label);
    const imageName = relative(root, image);
    const size = await imageSize(image);
    if (typeof size === 'string') {
      problems.skip(hasLabel ? label : image, `image ${imageName} dropped: ${size}`);
    } else {
      // No label file, or an empty one: a negative.
      const text = hasLabel ? await readFile(label, 'utf8') : '';
      const objects = parseLabels(text, classes, size.width, size.height);
      samples.push(makeSample(image, size.width, size.height, objects, label, imageName, problems));
    }
    reading.tick();
  }
  return { format: 'yolo', classes, samples };
}
