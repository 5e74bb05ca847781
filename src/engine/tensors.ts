import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import type { ImageSet } from '../data/types.js';
import { DECODE_CONCURRENCY, forEachLimit } from '../data/build.js';
import { bytesPerImage, decodeImageFile } from '../data/images.js';
import { GraftError } from '../core/errors.js';

/** Pixels (uint8, NHWC) as normalised floats: (pixel/255 - mean) / std. */
export function normalizePixels(
  pixels: Uint8Array,
  n: number,
  set: Pick<ImageSet, 'size'>,
  normalize: Normalize,
  pick: (k: number) => number,
): Float32Array {
  const { height, width, channels } = set.size;
  const per = height * width * channels;
  const out = new Float32Array(n * per);
  const scale = normalize.std.map((s) => 1 / (255 * s));
  const shift = normalize.mean.map((m, c) => m / normalize.std[c]);
  for (let k = 0; k < n; k++) {
    const src = pick(k) * per;
    const dst = k * per;
    for (let p = 0; p < per; p++) {
      const c = p % channels;
      out[dst + p] = pixels[src + p] * scale[c] - shift[c];
    }
  }
  return out;
}

const asTensor = (data: Float32Array, n: number, { height, width, channels }: ImageSet['size']) =>
  tf.tensor4d(data, [n, height, width, channels]);

/** Images (all, or the given indices) of an in-memory set as a normalised float NHWC tensor. */
export function imagesToTensor(set: ImageSet, normalize: Normalize, indices?: ArrayLike<number>): tf.Tensor4D {
  if (set.stream) throw new Error('a streamed set is read batch by batch: use batchToTensor');
  const n = indices ? indices.length : set.labels.length;
  return asTensor(
    normalizePixels(set.pixels, n, set, normalize, (k) => (indices ? indices[k] : k)),
    n,
    set.size,
  );
}

/**
 * The images at `indices` as a normalised tensor, from memory or, for a streamed set, decoded
 * from their files (sharp decodes on libvips' worker threads, several files at a time).
 */
export async function batchToTensor(set: ImageSet, normalize: Normalize, indices: readonly number[]): Promise<tf.Tensor4D> {
  return asTensor(await batchToArray(set, normalize, indices), indices.length, set.size);
}

/** batchToTensor's values as a plain array (NHWC), for engines outside TF.js. */
export async function batchToArray(set: ImageSet, normalize: Normalize, indices: readonly number[]): Promise<Float32Array> {
  if (!set.stream) return normalizePixels(set.pixels, indices.length, set, normalize, (k) => indices[k]);
  const { resize } = set.stream;
  const per = bytesPerImage(set.size);
  const pixels = new Uint8Array(indices.length * per);
  await forEachLimit(indices, DECODE_CONCURRENCY, async (i, k) => {
    try {
      pixels.set(await decodeImageFile(set.ids[i], set.size, resize), k * per);
    } catch (e) {
      // It decoded when the set was loaded: the file changed or vanished since.
      throw new GraftError(`${set.ids[i]} can no longer be read (${(e as Error).message}); it changed after loading`);
    }
  });
  return normalizePixels(pixels, indices.length, set, normalize, (k) => k);
}

/** One-hot rows of `labels`, flat: what an engine outside TF.js is fed. */
export function oneHotRows(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]] = 1;
  return out;
}

export function oneHot(labels: Int32Array, classes: number): tf.Tensor2D {
  return tf.tensor2d(oneHotRows(labels, classes), [labels.length, classes]);
}

/** The rows `indices` of `values` (rows of `row` numbers each), one after another: a batch for an engine outside TF.js. */
export function gatherRows(values: Float32Array, row: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * row);
  indices.forEach((r, i) => out.set(values.subarray(r * row, (r + 1) * row), i * row));
  return out;
}

/** Indices start..end-1 of a set. */
export const range = (start: number, end: number) => Array.from({ length: Math.max(0, end - start) }, (_, k) => start + k);
