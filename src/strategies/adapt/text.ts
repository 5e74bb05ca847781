// Domain adaptation on texts: each domain's texts through a frozen text base once, then the same
// methods as on a frozen image trunk's features. A text base has no BatchNorm of its own, so
// AdaBN's target statistics are those of the adaptation network's BatchNorm alone.
import * as tf from '@tensorflow/tfjs';
import type { TextEncoder } from '../../bases/types.js';
import { tell, type Callback } from '../../core/callbacks.js';
import type { TextSet } from '../../data/text/types.js';
import { embedTexts } from '../../engine/embed.js';
import type { FeatureCache } from '../../engine/feature-cache.js';
import type { AdaptData, DomainFeatures } from './pipeline.js';

/** Vectors for every domain of `data`, in the shape runAdaptation takes. Progress is '<base>: embedding', per domain. */
export async function textDomainFeatures(
  encoder: TextEncoder,
  data: AdaptData<TextSet>,
  o: { cache?: FeatureCache; callbacks?: readonly Callback[] } = {},
): Promise<DomainFeatures> {
  const started = performance.now();
  const made: tf.Tensor[] = [];
  const embed = async (set: TextSet) => {
    const x = await embedTexts(encoder, set.texts, {
      cache: o.cache,
      onProgress: (done, total) => tell(o.callbacks, 'onProgress', `${encoder.name}: embedding`, done, total),
      onTruncate: (i) => tell(o.callbacks, 'onTextWarning', { kind: 'truncated', id: set.ids[i] }),
    });
    made.push(x);
    return x;
  };
  try {
    const source = { train: await embed(data.source.train), val: await embed(data.source.val), test: await embed(data.source.test) };
    const target = await embed(data.target);
    const evalTarget = data.evalTarget && (await embed(data.evalTarget));
    const targetLabelled = data.targetLabelled && (await embed(data.targetLabelled));
    // Copies: disposeDomainFeatures releases these and the originals separately.
    const targetStatistics = { target: target.clone(), evalTarget: evalTarget?.clone() };
    return {
      cut: encoder.name,
      source,
      target,
      evalTarget,
      targetLabelled,
      targetStatistics,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
}
