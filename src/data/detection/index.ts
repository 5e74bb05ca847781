// Entry point for detection data: which format a spec is (COCO, Pascal VOC or YOLO), loading it
// into one DetectionSet, and the seeded train/val/test split.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { usageError } from '../../core/errors.js';
import { mulberry32, shuffle } from '../../math/random.js';
import { checkFractions, DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION } from '../split.js';
import { loadCoco } from './coco.js';
import { loadVoc, VOC_ANNOTATIONS } from './voc.js';
import { loadYolo, YOLO_IMAGES, YOLO_LABELS } from './yolo.js';
import type { DetectionFormat, DetectionLoadOptions, DetectionSet, DetectionSplits } from './types.js';

export type * from './types.js';
export { loadCoco } from './coco.js';
export { loadVoc, vocToBox, VOC_ANNOTATIONS, VOC_IMAGES } from './voc.js';
export { loadYolo, YOLO_IMAGES, YOLO_LABELS } from './yolo.js';
export { clipBox, READING_DETECTION } from './clean.js';

/** The file a folder of COCO data keeps its annotations in. */
export const COCO_ANNOTATIONS = 'annotations.json';

const FORMATS_SUPPORTED =
  `a COCO .json file (or a folder with ${COCO_ANNOTATIONS}), a YOLO folder (${YOLO_IMAGES}/ and ${YOLO_LABELS}/), ` +
  `or a Pascal VOC folder (.xml files beside the images, or ${VOC_ANNOTATIONS}/ and JPEGImages/)`;

const statOf = (path: string) => statSync(path, { throwIfNoEntry: false });
const isDir = (path: string) => statOf(path)?.isDirectory() ?? false;
const isFileSync = (path: string) => statOf(path)?.isFile() ?? false;

/** The format `spec` is in and the path its loader takes, from a look at names only; undefined when it is none of them. */
function detect(spec: string): { format: DetectionFormat; path: string } | undefined {
  const info = statOf(spec);
  if (!info) return undefined;
  if (info.isFile()) return extname(spec).toLowerCase() === '.json' ? { format: 'coco', path: spec } : undefined;
  if (!info.isDirectory()) return undefined;
  if (isFileSync(join(spec, COCO_ANNOTATIONS))) return { format: 'coco', path: join(spec, COCO_ANNOTATIONS) };
  if (isDir(join(spec, YOLO_IMAGES)) && isDir(join(spec, YOLO_LABELS))) return { format: 'yolo', path: spec };
  if (isDir(join(spec, VOC_ANNOTATIONS))) return { format: 'voc', path: spec };
  const xml = readdirSync(spec).some((f) => !f.startsWith('.') && extname(f).toLowerCase() === '.xml' && isFileSync(join(spec, f)));
  return xml ? { format: 'voc', path: spec } : undefined;
}

/**
 * Whether `spec` looks like detection data (a .json file, or a folder with annotations.json,
 * images/ + labels/, Annotations/ or .xml files): cheap and synchronous, for choosing detection
 * over classification. A folder of class folders answers false.
 */
export function isDetectionData(spec: string): boolean {
  return detect(spec) !== undefined;
}

/** Load `spec` as COCO, Pascal VOC or YOLO, whichever it is. */
export async function loadDetectionData(spec: string, o: DetectionLoadOptions = {}): Promise<DetectionSet> {
  const found = detect(spec);
  if (!found) {
    if (!statOf(spec)) throw usageError(`data path not found: ${spec}`);
    throw usageError(`${spec} is not detection data: expected ${FORMATS_SUPPORTED}`);
  }
  switch (found.format) {
    case 'coco':
      return loadCoco(found.path, o);
    case 'voc':
      return loadVoc(found.path, o);
    case 'yolo':
      return loadYolo(found.path, o);
  }
}

export interface DetectionSplitOptions {
  seed: number;
  /** Of all images, held out for validation (default 0.15). */
  valFraction?: number;
  /** Of all images, held out for testing (default 0.15). */
  testFraction?: number;
  /** Fixed numbers of images instead of fractions; train defaults to all that are left. */
  counts?: { train?: number; val: number; test: number };
}

const take = (set: DetectionSet, order: number[]): DetectionSet => ({
  format: set.format,
  classes: [...set.classes],
  samples: order.map((i) => set.samples[i]),
});

function checkCount(name: string, n: number | undefined, min: number): void {
  if (n !== undefined && !(Number.isInteger(n) && n >= min))
    throw usageError(`${name} image count must be ${min ? 'a positive' : 'a non-negative'} integer, not ${n}`);
}

/**
 * Train/val/test from one set: its images in a seeded order, then validation, test and training
 * images taken from the front in that order. Each split keeps the shuffled order, so the first n
 * training images (firstImages) are a random subset, and the same for a seed. Fractions are
 * rounded, with at least one validation and one test image when there are 3 images or more and
 * always at least one to train on, as splitDataset does for a class. Validation and test do not
 * depend on how many training images are asked for.
 */
export function splitDetection(set: DetectionSet, o: DetectionSplitOptions): DetectionSplits {
  const n = set.samples.length;
  let nVal: number;
  let nTest: number;
  let nTrain: number;
  if (o.counts) {
    const { train, val, test } = o.counts;
    checkCount('validation', val, 0);
    checkCount('test', test, 0);
    checkCount('training', train, 1);
    if (val + test + (train ?? 1) > n) {
      const asked = `${train ?? 'at least 1'} training, ${val} validation and ${test} test images`;
      throw usageError(`${asked} asked for, but the data has only ${n} image${n === 1 ? '' : 's'}`);
    }
    [nVal, nTest] = [val, test];
    nTrain = train ?? n - val - test;
  } else {
    const valFraction = o.valFraction ?? DEFAULT_VAL_FRACTION;
    const testFraction = o.testFraction ?? DEFAULT_TEST_FRACTION;
    checkFractions(valFraction, testFraction);
    nVal = Math.round(n * valFraction);
    nTest = Math.round(n * testFraction);
    if (n >= 3 && valFraction > 0) nVal = Math.max(nVal, 1);
    if (n >= 3 && testFraction > 0) nTest = Math.max(nTest, 1);
    while (n > 0 && nVal + nTest > n - 1) {
      if (nVal >= nTest) nVal--;
      else nTest--;
    }
    nTrain = n - nVal - nTest;
  }
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    mulberry32(o.seed),
  );
  return {
    val: take(set, order.slice(0, nVal)),
    test: take(set, order.slice(nVal, nVal + nTest)),
    train: take(set, order.slice(nVal + nTest, nVal + nTest + nTrain)),
  };
}

/** The first n training images (all when there are fewer): with splitDetection's seeded order, smaller sets are nested in larger ones. */
export function firstImages(set: DetectionSet, n: number): DetectionSet {
  if (!(Number.isInteger(n) && n >= 1)) throw usageError(`number of training images must be a positive integer, not ${n}`);
  return { ...set, classes: [...set.classes], samples: set.samples.slice(0, n) };
}
