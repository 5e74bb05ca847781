// Detection images on the model's input: each image rendered through a Placement (letterboxed, or
// randomly scaled, cropped and flipped for training) with its boxes moved the same way. The pixels
// form an ordinary ImageSet, so the frozen trunk's outputs go through the same feature cache as a
// classifier's (keyed by pixels: an augmented copy is a new entry, the same copy a hit).
import { basename } from 'node:path';
import { notify, tell, type Callback } from '../../core/callbacks.js';
import { GraftError } from '../../core/errors.js';
import { mulberry32, hashString } from '../../math/random.js';
import { DECODE_CONCURRENCY, forEachLimit } from '../build.js';
import { bytesPerImage, DecodeError } from '../images.js';
import type { ImageSet, ImageSize } from '../types.js';
import { letterbox, placeObjects, randomPlacement, type Placement } from './geometry.js';
import { renderPlaced } from './render.js';
import type { DetectionSample, DetectionSet, GroundTruth } from './types.js';

export interface PlacedSample {
  sample: DetectionSample;
  placement: Placement;
  /** The sample's objects in canvas pixels (those mostly outside it dropped). */
  objects: GroundTruth[];
}

export interface PlacedSet {
  classes: string[];
  size: ImageSize;
  /** placed.length images, NHWC uint8. */
  pixels: Uint8Array;
  placed: PlacedSample[];
}

export interface PlaceOptions {
  /** Random placements per image beyond the letterboxed one (training; default 0). */
  augment?: number;
  seed?: number;
  strict?: boolean;
  callbacks?: readonly Callback[];
}

export const PLACING = 'placing images';

/**
 * Every image of `set` letterboxed onto `size`, followed by `augment` random placements of it
 * (drawn from a stream seeded by the seed and the file's name, so a copy depends neither on which
 * other images are in the set nor on the folder the data set sits in). An image that cannot be decoded is skipped (onSkip), or fails under strict.
 */
export async function placeSet(set: Pick<DetectionSet, 'classes' | 'samples'>, size: ImageSize, o: PlaceOptions = {}): Promise<PlacedSet> {
  const copies = 1 + (o.augment ?? 0);
  const jobs = set.samples.flatMap((sample) => {
    const rand = mulberry32(hashString(`${o.seed ?? 0}:${basename(sample.file)}`));
    return Array.from({ length: copies }, (_, k): { sample: DetectionSample; placement: Placement } => ({
      sample,
      placement: k === 0 ? letterbox(sample, size) : randomPlacement(sample, size, rand),
    }));
  });
  const per = bytesPerImage(size);
  const rendered: (Uint8Array | undefined)[] = new Array(jobs.length);
  const failed = new Set<string>();
  let done = 0;
  await forEachLimit(jobs, DECODE_CONCURRENCY, async (job, i) => {
    if (failed.has(job.sample.file)) return;
    try {
      rendered[i] = await renderPlaced(job.sample.file, job.placement, size.channels);
    } catch (e) {
      if (!(e instanceof GraftError) || o.strict) throw e;
      if (!failed.has(job.sample.file)) {
        failed.add(job.sample.file);
        await notify(o.callbacks, 'onSkip', { path: job.sample.file, reason: e instanceof DecodeError ? e.reason : e.message });
      }
    }
    tell(o.callbacks, 'onProgress', PLACING, ++done, jobs.length);
  });
  const kept = jobs.map((j, i) => ({ ...j, pixels: rendered[i] })).filter((j) => j.pixels && !failed.has(j.sample.file));
  const pixels = new Uint8Array(kept.length * per);
  kept.forEach((j, i) => pixels.set(j.pixels!, i * per));
  return {
    classes: set.classes,
    size,
    pixels,
    placed: kept.map(({ sample, placement }) => ({ sample, placement, objects: placeObjects(sample.objects, placement) })),
  };
}

/** The placed images as an ImageSet (labels unused), for the frozen trunk and its cache. */
export const placedImages = (p: PlacedSet): ImageSet => ({
  classes: p.classes,
  size: p.size,
  pixels: p.pixels,
  labels: new Int32Array(p.placed.length),
  ids: p.placed.map((s, i) => `${s.sample.file}#${i}`),
});
