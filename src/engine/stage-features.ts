// What a training stage trains on: the outputs of the graft's frozen part below the stage's
// boundary for each set, on the fastest engine and through the cache, or for a scratch run the
// normalised images themselves (nothing is frozen). One place for every kind's stages.
import * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import type { ImageSet } from '../data/types.js';
import type { FeatureCache } from './feature-cache.js';
import { extractSets, type ExtractStats } from './features.js';
import { gatherRows, imagesToTensor, normalizePixels } from './tensors.js';
import { withFrozenPart, type Engine, type FrozenPart, type FrozenPartSource } from './frozen.js';

/** Scratch training has nothing frozen: the "features" are the normalised images. */
const scratchInput = (): FrozenPart => ({ predict: (x: tf.Tensor) => x.clone(), id: 'input', engine: 'tfjs' });

export interface StageFeatures {
  /** One tensor per set, in order; the caller disposes them. */
  features: tf.Tensor[];
  stats: ExtractStats;
  engine: FrozenPart['engine'];
  seconds: number;
}

export async function stageFeatures(
  g: FrozenPartSource & { scratch: boolean; base: { normalize: Normalize } },
  boundary: string,
  sets: readonly ImageSet[],
  o: { stage: string; engine?: Engine; cache?: FeatureCache; callbacks?: readonly Callback[]; batchSize?: number },
): Promise<StageFeatures> {
  const t0 = performance.now();
  const extract = async (part: FrozenPart, cache?: FeatureCache) => {
    const r = await extractSets(part, sets, {
      normalize: g.base.normalize,
      batchSize: o.batchSize ?? 64,
      cache,
      onBatch: (done, total) => tell(o.callbacks, 'onProgress', `${o.stage}: frozen features`, done, total),
    });
    return { ...r, engine: part.engine };
  };
  // A frozen base's trunk is frozen whole; a LayersModel splits at the stage's boundary.
  const r = g.scratch ? await extract(scratchInput()) : await withFrozenPart(g, boundary, o.engine, (part) => extract(part, o.cache));
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

/** Training rows read a batch at a time: a stage's features, or a scratch stage's images. */
export interface Rows {
  readonly n: number;
  /** The rows at `indices` as one tensor (the caller disposes it). */
  take(indices: readonly number[]): tf.Tensor;
  /** The same rows as plain values and their dimensions, for an engine outside TF.js. */
  values(indices: readonly number[]): { data: Float32Array; dims: number[] };
  dispose(): void;
}

/**
 * Rows of a tensor, its values moved into JS memory (the tensor is disposed): a batch is a copy of
 * its rows. TF.js wasm's gather took 260 ms for 16 rows of a 734x20x20x576 detection map, the copy
 * a few; and the wasm heap (4 GiB at most) is left to training.
 */
export function tensorRows(t: tf.Tensor): Rows {
  const raw = t.dataSync();
  const all = raw instanceof Float32Array ? raw : Float32Array.from(raw);
  const [n, ...shape] = t.shape;
  t.dispose();
  const row = shape.reduce((a, b) => a * b, 1);
  const values = (indices: readonly number[]) => ({ data: gatherRows(all, row, indices), dims: [indices.length, ...shape] });
  return {
    n,
    take: (indices) => tf.tensor(values(indices).data, [indices.length, ...shape]),
    values,
    dispose: () => {},
  };
}

/**
 * Rows of an in-memory image set, normalised when a batch is taken. A scratch stage trains on
 * these: its "features" are the images, and hundreds of augmented 320x320 copies as one float
 * tensor would not fit in TF.js wasm's heap, where their bytes do in JS memory.
 */
export function imageRows(set: ImageSet, normalize: Normalize): Rows {
  const { height, width, channels } = set.size;
  return {
    n: set.labels.length,
    take: (indices) => imagesToTensor(set, normalize, indices),
    values: (indices) => ({
      data: normalizePixels(set.pixels, indices.length, set, normalize, (k) => indices[k]),
      dims: [indices.length, height, width, channels],
    }),
    dispose: () => {},
  };
}

/** stageFeatures' sets as Rows; a scratch stage reads its images batch by batch instead of holding them as one tensor. */
export async function stageRows(
  g: FrozenPartSource & { scratch: boolean; base: { normalize: Normalize } },
  boundary: string,
  sets: readonly ImageSet[],
  o: Parameters<typeof stageFeatures>[3],
): Promise<Omit<StageFeatures, 'features'> & { rows: Rows[] }> {
  if (g.scratch && sets.every((s) => !s.stream))
    return {
      rows: sets.map((s) => imageRows(s, g.base.normalize)),
      stats: { computed: 0, cached: 0 },
      engine: 'tfjs',
      seconds: 0,
    };
  const { features, ...rest } = await stageFeatures(g, boundary, sets, o);
  return { ...rest, rows: features.map(tensorRows) };
}
