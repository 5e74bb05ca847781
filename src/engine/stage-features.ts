// What a training stage trains on: the outputs of the graft's frozen part below the stage's
// boundary for each set, on the fastest engine and through the cache, or for a scratch run the
// normalised images themselves (nothing is frozen). One place for every kind's stages.
import type * as tf from '@tensorflow/tfjs';
import type { Normalize } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import type { ImageSet } from '../data/types.js';
import type { FeatureCache } from './feature-cache.js';
import { extractSets, type ExtractStats } from './features.js';
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
