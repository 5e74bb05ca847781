// Texts through a frozen text base, through the feature cache: the text analogue of
// extractFeatures. A text embedded once (per base) is read back, not recomputed.
import * as tf from '@tensorflow/tfjs';
import type { TextEncoder } from '../bases/types.js';
import { digest } from '../io/digest.js';
import type { FeatureCache } from './feature-cache.js';

export interface EmbedOptions {
  /** Vectors are kept per (base, text): a text embedded once is read back, not recomputed. */
  cache?: FeatureCache;
  onProgress?: (done: number, total: number) => void;
  /** Index of a text cut to the base's token limit (texts read from the cache are not re-checked). */
  onTruncate?: (index: number) => void;
}

/** One row per text from `encoder`, through the feature cache when given. The caller disposes the tensor. */
export async function embedTexts(encoder: TextEncoder, texts: string[], o: EmbedOptions = {}): Promise<tf.Tensor2D> {
  if (!o.cache) return encoder.embed(texts, { onProgress: o.onProgress, onTruncate: o.onTruncate });
  const keys = texts.map((t) => digest('text', encoder.id ?? encoder.name, t));
  const found = await o.cache.getMany(keys);
  const missing = found.flatMap((v, i) => (v ? [] : [i]));
  const out = new Float32Array(texts.length * encoder.dim);
  found.forEach((v, i) => v && out.set(v, i * encoder.dim));
  if (missing.length) {
    const fresh = await encoder.embed(
      missing.map((i) => texts[i]),
      {
        onProgress: (done) => o.onProgress?.(texts.length - missing.length + done, texts.length),
        onTruncate: (k) => o.onTruncate?.(missing[k]),
      },
    );
    const rows = (await fresh.data()) as Float32Array;
    fresh.dispose();
    const entries = missing.map((i, k) => ({ key: keys[i], value: rows.slice(k * encoder.dim, (k + 1) * encoder.dim) }));
    entries.forEach((e, k) => out.set(e.value, missing[k] * encoder.dim));
    await o.cache.putMany(entries);
  } else o.onProgress?.(texts.length, texts.length);
  return tf.tensor2d(out, [texts.length, encoder.dim]);
}
