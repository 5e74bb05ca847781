// Reading the structure of a functional LayersModel: where it can be cut and how its layers group
// into blocks. A layer is a cut point when everything above it depends on its output alone
// (no residual connection jumps over it), so the model splits there into two models.
import type * as tf from '@tensorflow/tfjs';
import type { Block } from './types.js';

type Layer = tf.layers.Layer;

/** Names of the layers each layer reads from, in the model's own (first) graph. */
export function inboundLayerNames(layer: Layer): string[] {
  const node = layer.inboundNodes[0];
  return node ? node.inboundLayers.map((l) => l.name) : [];
}

/** Indices of layers whose output is the only tensor the rest of the model needs. */
export function cutPoints(model: tf.LayersModel): Set<number> {
  const index = new Map(model.layers.map((l, i) => [l.name, i]));
  // For each layer, the last consumer of its output.
  const lastUse = model.layers.map((_, i) => i);
  model.layers.forEach((layer, j) => {
    for (const name of inboundLayerNames(layer)) {
      const i = index.get(name);
      if (i !== undefined) lastUse[i] = Math.max(lastUse[i], j);
    }
  });
  const points = new Set<number>();
  let reach = 0; // furthest consumer of any layer below i
  for (let i = 0; i < model.layers.length; i++) {
    if (reach <= i && model.layers[i].getClassName() !== 'InputLayer') points.add(i);
    reach = Math.max(reach, lastUse[i]);
  }
  return points;
}

const WEIGHTED = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense', 'Conv1D', 'Embedding']);

/**
 * Generic blocks for a model without metadata: a new block starts at each weighted layer that
 * follows a cut point, so a block is "conv/dense + its normalisation, activation and pooling".
 */
export function deriveBlocks(model: tf.LayersModel): Block[] {
  const cuts = cutPoints(model);
  const blocks: Block[] = [];
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'InputLayer') return;
    const starts = blocks.length === 0 || (WEIGHTED.has(layer.getClassName()) && cuts.has(i - 1));
    if (starts) blocks.push({ name: layer.name, start: i, end: i });
    else blocks[blocks.length - 1].end = i;
  });
  return blocks;
}

/** Blocks from a naming scheme: consecutive layers whose `group(name)` agrees form one block. */
export function blocksByName(model: tf.LayersModel, group: (layerName: string) => string): Block[] {
  const blocks: Block[] = [];
  model.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'InputLayer') return;
    const name = group(layer.name);
    const last = blocks[blocks.length - 1];
    if (last && last.name === name) last.end = i;
    else blocks.push({ name, start: i, end: i });
  });
  return blocks;
}

/**
 * The last feature layer before the original classifier: walk down from the output over the
 * trailing Dense/Dropout/Activation/Flatten/pooling layers that make up a Keras classifier.
 */
export function classifierStart(model: tf.LayersModel): number {
  const classifierKinds = new Set([
    'Dense',
    'Dropout',
    'Activation',
    'Softmax',
    'Flatten',
    'GlobalAveragePooling2D',
    'GlobalMaxPooling2D',
    'AveragePooling2D',
  ]);
  let i = model.layers.length - 1;
  while (i > 0 && classifierKinds.has(model.layers[i].getClassName())) i--;
  return i;
}
