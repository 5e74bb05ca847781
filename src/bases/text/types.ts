// A frozen text base: texts in, one fixed-length vector per text out. Heads are trained on these
// vectors the way image heads are trained on a frozen trunk's pooled features.
import type * as tf from '@tensorflow/tfjs';

export interface TextEncoder {
  name: string;
  /** Length of each text's vector. */
  dim: number;
  /** Longest input in tokens the base takes; longer texts are truncated (reported through onTruncate). */
  maxTokens: number;
  /** One row per text. The caller disposes the tensor. */
  embed(
    texts: string[],
    o?: { batchSize?: number; onProgress?: (done: number, total: number) => void; onTruncate?: (index: number) => void },
  ): Promise<tf.Tensor2D>;
  dispose(): void;
}
