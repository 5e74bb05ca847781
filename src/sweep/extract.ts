// The frozen pass over a collection, in shards: shard i of n is every n-th image from the i-th,
// run through the base's frozen part at the cut (the boundary `graft train`'s head stage reads)
// into the feature cache, whose entries are keyed by each image's pixels. So shards computed on
// any machine sharing the cache's folder are what a later `graft train` on the same data and cut
// reads: it computes nothing. Each shard is a graft process (`graft extract --shard i/n`), run by
// the same local pool or queue as a sweep's trials.
import { loadImageBase } from '../bases/index.js';
import type { Callback } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import { concat, loadData, subset } from '../data/index.js';
import type { ImageSet } from '../data/types.js';
import { FeatureCache } from '../engine/feature-cache.js';
import { headBoundary, type Engine } from '../engine/frozen.js';
import { stageFeatures } from '../engine/stage-features.js';
import { rankCandidates } from '../evaluate/rank.js';
import { disposeGrafted, graft } from '../graft/graft.js';
import type { OnnxBaseOptions } from '../bases/image/onnx.js';

export interface Shard {
  /** 1-based. */
  index: number;
  of: number;
}

export interface ExtractShardOptions {
  base: string;
  baseOptions?: OnnxBaseOptions;
  data: string;
  cut: string;
  shard: Shard;
  cacheDir?: string;
  engine?: Engine;
  callbacks?: Callback[];
}

export interface ShardStats {
  /** Images in the shard. */
  images: number;
  computed: number;
  cached: number;
}

/** `i/n` as a shard, or a usage error. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const of = Number(m?.[2]);
  if (!m || of < 1 || index < 1 || index > of) throw usageError(`--shard must be I/N with 1 ≤ I ≤ N, e.g. 2/4; got "${text}"`);
  return { index, of };
}

/** Every image of the data, whatever its splits: the features are keyed by the image, not its split. */
function everyImage(loaded: Awaited<ReturnType<typeof loadData>>): ImageSet {
  if (loaded.kind === 'set') return loaded.set;
  return concat(...[loaded.train, loaded.val, loaded.test].filter((s): s is ImageSet => s !== undefined));
}

/** One shard's features into the cache. */
export async function extractShard(o: ExtractShardOptions): Promise<ShardStats> {
  const base = await loadImageBase(o.base, o.baseOptions);
  if (o.cut === 'auto' && base.kind === 'layers' && rankCandidates(base, 'blocks').length >= 2)
    throw usageError(`--cut auto ranks ${o.base}'s cuts on each run's training images: give the cut to extract at (graft rank shows them)`);
  const all = everyImage(await loadData(o.data, { size: base.input, resize: base.resize, medium: base.medium, callbacks: o.callbacks }));
  const indices = Array.from({ length: all.labels.length }, (_, k) => k).filter((k) => k % o.shard.of === o.shard.index - 1);
  const set = subset(all, indices);
  const g = await graft(base, { classes: all.classes, cut: o.cut });
  try {
    const r = await stageFeatures(g, headBoundary(g), [set], {
      stage: `shard ${o.shard.index}/${o.shard.of}`,
      engine: o.engine,
      cache: new FeatureCache({ dir: o.cacheDir }),
      callbacks: o.callbacks,
    });
    r.features.forEach((t) => t.dispose());
    return { images: indices.length, ...r.stats };
  } finally {
    await disposeGrafted(g);
  }
}
