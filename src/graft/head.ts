// The new head grafted onto the trunk. Defaults follow Keras's transfer-learning guide
// (global average pooling, dropout, one dense softmax layer) and its mnist_transfer_cnn example
// (dense-128, dropout 0.5, dense softmax).
import * as tf from '@tensorflow/tfjs';
import type { HeadSpec } from '../bases/types.js';
import { usageError } from '../core/errors.js';

export interface HeadOutput {
  /** softmax: one class (default); sigmoid: any number of classes (multi-label); linear: regression. */
  activation?: 'softmax' | 'sigmoid' | 'linear';
  /** Prefix of the head's layer names, so several heads can sit on one trunk. */
  prefix?: string;
  /** Name of the output layer (default `${prefix}head_output`): a multi-task model's output names. */
  outputName?: string;
}

export function applyHead(features: tf.SymbolicTensor, spec: HeadSpec, units: number, o: HeadOutput = {}): tf.SymbolicTensor {
  const p = o.prefix ?? '';
  let x = features;
  if (x.shape.length > 2) {
    // A feature map is averaged over its positions, a token sequence ([tokens, hidden]) over its tokens.
    x = (
      spec.pool === 'flatten'
        ? tf.layers.flatten({ name: `${p}head_flatten` })
        : x.shape.length === 3
          ? tf.layers.globalAveragePooling1d({ name: `${p}head_pool` })
          : tf.layers.globalAveragePooling2d({ name: `${p}head_pool` })
    ).apply(x) as tf.SymbolicTensor;
  }
  const dropout = spec.dropout ?? 0;
  const hidden = spec.kind === 'mlp' ? (spec.units ?? [128]) : [];
  hidden.forEach((u, i) => {
    x = tf.layers.dense({ units: u, activation: 'relu', name: `${p}head_dense_${i + 1}` }).apply(x) as tf.SymbolicTensor;
    if (dropout > 0) x = tf.layers.dropout({ rate: dropout, name: `${p}head_dropout_${i + 1}` }).apply(x) as tf.SymbolicTensor;
  });
  if (spec.kind === 'linear' && dropout > 0)
    x = tf.layers.dropout({ rate: dropout, name: `${p}head_dropout` }).apply(x) as tf.SymbolicTensor;
  return tf.layers
    .dense({ units, activation: o.activation ?? 'softmax', name: o.outputName ?? `${p}head_output` })
    .apply(x) as tf.SymbolicTensor;
}

/** Parse `linear`, `mlp`, `mlp:256` or `mlp:256,64` (hidden units). */
export function parseHead(text: string, fallback: HeadSpec): HeadSpec {
  const [kind, units, ...rest] = text.split(':');
  const bad = () => usageError(`--head must be linear or mlp[:UNITS[,UNITS…]] with whole numbers ≥ 1, got "${text}"`);
  if ((kind !== 'linear' && kind !== 'mlp') || rest.length || (kind === 'linear' && units !== undefined)) throw bad();
  if (kind === 'linear') return { ...fallback, kind, units: undefined };
  const parsed = units ? units.split(',').map(Number) : (fallback.units ?? [128]);
  if (parsed.some((u) => !Number.isInteger(u) || u < 1)) throw bad();
  return { ...fallback, kind, units: parsed };
}
