// Features: the frozen part's outputs for a set of images, computed once and, with a cache,
// never again. Each image's features are stored under a key made of the frozen part's identity
// (weights and cut), the preprocessing and the image's own pixels, so another head, learning
// rate, seed or split over the same images reuses them.
import * as tf from '@tensorflow/tfjs';
import { sharpModule } from '../io/sharp.js';
import type { FrozenTrunk, Normalize } from '../bases/types.js';
import type { ImageSet } from '../data/types.js';
import type { Predictor } from '../bases/types.js';
import { digest } from '../io/digest.js';
import type { FeatureCache } from './feature-cache.js';
import { batchToArray, batchToTensor, range } from './tensors.js';

/**
 * Part of every key: bump it when what a key stands for changes (how trunks are identified, how
 * they are exported and run), so stale entries are never read as fresh ones.
 */
const FEATURES_FORMAT = 'graft-features-1';
/** Streamed sets are keyed by file bytes: the decoder that turns them into pixels is part of the key. */
const decoder = () => `sharp-${sharpModule().versions.sharp}-vips-${sharpModule().versions.vips}`;

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

type Input = { raw: Float32Array; dims: number[] } | { tensor: tf.Tensor4D };

async function prepare(trunk: FrozenTrunk, set: ImageSet, normalize: Normalize, indices: number[]): Promise<Input> {
  if (!trunk.predictRaw) return { tensor: await batchToTensor(set, normalize, indices) };
  const { height, width, channels } = set.size;
  return { raw: await batchToArray(set, normalize, indices), dims: [indices.length, height, width, channels] };
}

async function run(trunk: FrozenTrunk, input: Input): Promise<{ data: Float32Array; dims: number[] }> {
  if ('raw' in input) return trunk.predictRaw!(input.raw, input.dims);
  const y = await trunk.predict(input.tensor);
  const out = { data: (await y.data()) as Float32Array, dims: y.shape };
  tf.dispose([input.tensor, y]);
  return out;
}

/**
 * The frozen part's outputs for every image of `set`, as one tensor. Batch k+1 is looked up in the
 * cache, decoded and normalised while the trunk works on batch k; only cache misses reach the trunk.
 */
export async function extractFeatures(
  trunk: FrozenTrunk,
  set: ImageSet,
  o: ExtractOptions,
): Promise<{ features: tf.Tensor; stats: ExtractStats }> {
  const batchSize = o.batchSize ?? 64;
  const n = set.labels.length;
  const { height, width, channels } = set.size;
  const per = height * width * channels;
  const cache = o.cache;
  const prep = digest(FEATURES_FORMAT, trunk.id, JSON.stringify(o.normalize), height, width, channels);
  const shapeKey = digest(prep, 'shape');
  let shape = cache ? await cache.get(shapeKey) : undefined;
  const rows: (Float32Array | undefined)[] = new Array(n);
  const stats: ExtractStats = { computed: 0, cached: 0 };
  // A streamed set's images are known by their files' bytes, so hits need no decoding at all.
  const keyOf = (k: number) =>
    set.stream
      ? digest(prep, 'file', decoder(), set.stream.resize, set.stream.digests[k])
      : digest(prep, set.pixels.subarray(k * per, (k + 1) * per));
  let inflight: Promise<void> = Promise.resolve();
  for (let i = 0; i < n; i += batchSize) {
    const idx = range(i, Math.min(n, i + batchSize));
    const keys = cache ? idx.map(keyOf) : [];
    const hits = cache && shape ? await cache.getMany(keys) : [];
    const misses = idx.filter((_, j) => !hits[j]);
    idx.forEach((k, j) => (rows[k] = hits[j]));
    stats.cached += idx.length - misses.length;
    if (misses.length) {
      const input = await prepare(trunk, set, o.normalize, misses);
      await inflight.catch((e) => {
        if ('tensor' in input) input.tensor.dispose();
        throw e;
      });
      inflight = run(trunk, input).then(async (out) => {
        const size = out.data.length / misses.length;
        if (!shape) {
          shape = Float32Array.from(out.dims.slice(1));
          await cache?.put(shapeKey, shape);
        }
        const fresh = misses.map((k, j) => ({ key: keys[k - i], value: out.data.slice(j * size, (j + 1) * size) }));
        misses.forEach((k, j) => (rows[k] = fresh[j].value));
        if (cache) await cache.putMany(fresh);
        stats.computed += misses.length;
      });
      // Awaited on the next batch or after the loop; until then a failure must not count as unhandled.
      inflight.catch(() => undefined);
    }
    o.onBatch?.(idx[idx.length - 1] + 1, n);
  }
  await inflight;
  if (n === 0) return { features: tf.zeros([0]), stats };
  const dims = Array.from(shape!);
  const size = dims.reduce((a, b) => a * b, 1);
  const all = new Float32Array(n * size);
  rows.forEach((r, k) => all.set(r!, k * size));
  return { features: tf.tensor(all, [n, ...dims]), stats };
}

/**
 * `extractFeatures` over several sets with one frozen part: one tensor per set, and the counts
 * summed. Progress counts the images of all the sets; a failure frees what was made.
 */
export async function extractSets(
  trunk: FrozenTrunk,
  sets: readonly ImageSet[],
  o: ExtractOptions,
): Promise<{ features: tf.Tensor[]; stats: ExtractStats }> {
  const features: tf.Tensor[] = [];
  const stats: ExtractStats = { computed: 0, cached: 0 };
  const total = sets.reduce((n, s) => n + s.labels.length, 0);
  let before = 0;
  try {
    for (const set of sets) {
      const r = await extractFeatures(trunk, set, { ...o, onBatch: o.onBatch && ((done) => o.onBatch!(before + done, total)) });
      features.push(r.features);
      stats.computed += r.stats.computed;
      stats.cached += r.stats.cached;
      before += set.labels.length;
    }
    return { features, stats };
  } catch (e) {
    tf.dispose(features);
    throw e;
  }
}

/**
 * Any predictor (a whole graft, a LayersModel) over a set in batches, memory bounded by the batch:
 * extractFeatures without a cache.
 */
export async function predictSet(
  model: Predictor,
  set: ImageSet,
  normalize: Normalize,
  batchSize = 32,
  onBatch?: (done: number, total: number) => void,
): Promise<tf.Tensor> {
  return (await extractFeatures({ predict: (x) => model.predict(x), id: '' }, set, { normalize, batchSize, onBatch })).features;
}
