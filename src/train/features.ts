// Features: the frozen part's outputs for a set of images, computed once and, with a cache,
// never again. Each image's features are stored under a key made of the frozen part's identity
// (weights and cut), the preprocessing and the image's own pixels, so another head, learning
// rate, seed or split over the same images reuses them.
import * as tf from '@tensorflow/tfjs';
import type { FrozenTrunk, Normalize } from '../bases/types.js';
import type { ImageSet } from '../data/types.js';
import { digest } from '../io/digest.js';
import type { FeatureCache } from './feature-cache.js';
import { batchToTensor, predictSet, range } from './tensors.js';

export interface ExtractOptions {
  normalize: Normalize;
  batchSize?: number;
  cache?: FeatureCache;
  onBatch?: (done: number, total: number) => void;
}

export interface ExtractStats {
  /** Images run through the frozen part. */
  computed: number;
  /** Images whose features came from the cache. */
  cached: number;
}

export async function extractFeatures(trunk: FrozenTrunk, set: ImageSet, o: ExtractOptions): Promise<{ features: tf.Tensor; stats: ExtractStats }> {
  const batchSize = o.batchSize ?? 64;
  const n = set.labels.length;
  if (!o.cache) return { features: await predictSet(trunk, set, o.normalize, batchSize, o.onBatch), stats: { computed: n, cached: 0 } };
  const cache = o.cache;
  const { height, width, channels } = set.size;
  const per = height * width * channels;
  const prep = digest(trunk.id, JSON.stringify(o.normalize), height, width, channels);
  const shapeKey = digest(prep, 'shape');
  let shape = (await cache.get(shapeKey))?.map((d) => d);
  const rows: (Float32Array | undefined)[] = new Array(n);
  const stats: ExtractStats = { computed: 0, cached: 0 };
  for (let i = 0; i < n; i += batchSize) {
    const idx = range(i, Math.min(n, i + batchSize));
    // A streamed set's images are known by their files' bytes, so hits need no decoding at all.
    const keys = idx.map((k) => (set.stream ? digest(prep, 'file', set.stream.resize, set.stream.digests[k]) : digest(prep, set.pixels.subarray(k * per, (k + 1) * per))));
    const hits = shape ? await cache.getMany(keys) : keys.map(() => undefined);
    const misses = idx.filter((_, j) => !hits[j]);
    idx.forEach((k, j) => (rows[k] = hits[j]));
    stats.cached += idx.length - misses.length;
    if (misses.length) {
      const x = await batchToTensor(set, o.normalize, misses);
      const y = await trunk.predict(x);
      const data = (await y.data()) as Float32Array;
      const size = data.length / misses.length;
      if (!shape) {
        shape = Float32Array.from(y.shape.slice(1));
        await cache.put(shapeKey, shape);
      }
      tf.dispose([x, y]);
      const fresh = misses.map((k, j) => ({ key: keys[idx.indexOf(k)], value: data.slice(j * size, (j + 1) * size) }));
      misses.forEach((k, j) => (rows[k] = fresh[j].value));
      await cache.putMany(fresh);
      stats.computed += misses.length;
    }
    o.onBatch?.(idx[idx.length - 1] + 1, n);
  }
  if (n === 0) return { features: tf.zeros([0]), stats };
  const dims = Array.from(shape!);
  const size = dims.reduce((a, b) => a * b, 1);
  const all = new Float32Array(n * size);
  rows.forEach((r, k) => all.set(r!, k * size));
  return { features: tf.tensor(all, [n, ...dims]), stats };
}
