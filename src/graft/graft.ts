// graft(): cut a base at a layer, put a new head on it, and decide what trains.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import type { FrozenBase, FrozenTrunk, HeadSpec, ImageBase, LayersBase, Predictor } from '../bases/types.js';
import { cutPoints } from '../bases/structure.js';
import { usageError } from '../core/errors.js';
import { resolveCut, type CutSpec } from './cut.js';
import { applyHead } from './head.js';
import { layerIndex, ownOutput } from './split.js';

export interface GraftOptions {
  /** Class names of the new task (their order is the output order). */
  classes: string[];
  cut?: CutSpec;
  /** Head overrides; the base's suggested head otherwise. */
  head?: Partial<HeadSpec>;
  /** The same architecture with every weight freshly initialised and trainable. */
  scratch?: boolean;
}

interface GraftedParts {
  cut: string;
  classes: string[];
  head: HeadSpec;
  scratch: boolean;
}

/** A LayersModel base grafted: input → trunk (base up to the cut) → head → class probabilities, in `model`. */
export interface GraftedOnLayers extends GraftedParts {
  base: LayersBase;
  model: tf.LayersModel;
  trunk?: undefined;
}

/** A frozen base grafted: `model` is the head alone, fed by the base's `trunk` run up to the cut. */
export interface GraftedOnFrozen extends GraftedParts {
  base: FrozenBase;
  model: tf.LayersModel;
  trunk: FrozenTrunk;
  scratch: false;
}

export type Grafted = GraftedOnLayers | GraftedOnFrozen;

export async function graft(base: ImageBase, opts: GraftOptions): Promise<Grafted> {
  if (opts.classes.length < 2) throw usageError(`need at least 2 classes, got ${opts.classes.length}`);
  const cut = resolveCut(base, opts.cut);
  const head: HeadSpec = withDefaults(base.head, opts.head);
  if (base.kind !== 'layers') return graftOnFrozen(base, cut, head, opts);
  const model = await ownModel(base, base.model, cut, (features) => applyHead(features, head, opts.classes.length), opts.scratch);
  const g: GraftedOnLayers = { base, model, cut, classes: opts.classes, head, scratch: !!opts.scratch };
  trainAbove(g, graftedBoundary(g));
  return g;
}

/**
 * The base up to `cut` with new outputs on top (`outputs` builds them on the cut's output), as a
 * model with layers of its own, so training it never changes the base (which can be grafted
 * again): rebuilt from the architecture, every layer starts from its initialiser, then the trunk
 * takes the base's weights unless this is the scratch baseline.
 */
export async function ownModel(
  base: LayersBase,
  baseModel: tf.LayersModel,
  cut: string,
  outputs: (features: tf.SymbolicTensor) => tf.SymbolicTensor | tf.SymbolicTensor[],
  scratch = false,
): Promise<tf.LayersModel> {
  const sketch = tf.model({
    inputs: baseModel.inputs,
    outputs: outputs(ownOutput(baseModel.getLayer(cut))),
    name: `graft_${base.name.replace(/\W+/g, '_')}`,
  });
  const model = await tf.models.modelFromJSON({ modelTopology: sketch.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] });
  const baseLayers = new Set(baseModel.layers);
  for (const layer of sketch.layers) if (!baseLayers.has(layer)) layer.dispose();
  if (!scratch) {
    for (const layer of model.layers) {
      if (baseLayers.has(sketch.getLayer(layer.name)) && layer.weights.length)
        layer.setWeights(baseModel.getLayer(layer.name).getWeights());
    }
    inferenceModeBatchNorm(model, cut);
  }
  return model;
}

/**
 * A GraphModel or ONNX base is a frozen feature extractor: no weights to fine-tune, so the graft
 * is a head trained on its outputs at the cut (any node of the graph), and `scratch` has nothing
 * to mean.
 */
async function graftOnFrozen(base: FrozenBase, cut: string, head: HeadSpec, opts: GraftOptions): Promise<GraftedOnFrozen> {
  if (opts.scratch) throw usageError(`${base.name} is a frozen ${base.kind} model: it has no architecture to train from scratch`);
  const trunk = await base.frozenTrunk(cut);
  const probe = tf.zeros([1, base.input.height, base.input.width, base.input.channels]);
  let shape: number[];
  try {
    const features = await trunk.predict(probe);
    shape = features.shape.slice(1);
    features.dispose();
  } catch (e) {
    await trunk.release?.();
    throw e;
  } finally {
    probe.dispose();
  }
  const input = tf.input({ shape, name: 'features' });
  const model = tf.model({ inputs: input, outputs: applyHead(input, head, opts.classes.length), name: 'graft_head' });
  return { base, model, trunk, cut, classes: opts.classes, head, scratch: false };
}

/** A single-output LayersModel as a Predictor. */
export function asPredictor(model: tf.LayersModel): Predictor {
  if (model.outputs.length !== 1) throw new Error(`${model.name} has ${model.outputs.length} outputs; one expected`);
  return { predict: (x) => model.predict(x) as tf.Tensor };
}

/** The whole graft as one predictor: images in, class probabilities out. */
export function pipeline(g: { model: tf.LayersModel; trunk?: Predictor }): Predictor {
  const head = asPredictor(g.model);
  const trunk = g.trunk;
  if (!trunk) return head;
  return {
    predict: async (x) => {
      const features = await trunk.predict(x);
      try {
        return await head.predict(features);
      } finally {
        features.dispose();
      }
    },
  };
}

/**
 * Base BatchNormalization layers always normalise with their moving statistics, frozen or not:
 * Keras's transfer-learning guide keeps BN in inference mode when fine-tuning, because updating
 * statistics learned on millions of images from a few hundred wrecks them. TF.js ignores
 * `trainable` here, so the layers' call is pinned to training=false.
 */
function inferenceModeBatchNorm(model: tf.LayersModel, cut: string): void {
  const last = layerIndex(model, cut);
  for (const layer of model.layers.slice(0, last + 1)) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
    pinned.add(layer);
  }
}

const pinned = new WeakSet<tf.layers.Layer>();

/** Whether a BatchNormalization layer normalises with its moving statistics even in training (a base's, pinned at grafting). */
export const isInferenceBatchNorm = (layer: tf.layers.Layer): boolean => pinned.has(layer);

/** What trains right after grafting: everything for scratch, else the layers above the cut. */
export const graftedBoundary = (g: Pick<Grafted, 'model' | 'cut' | 'scratch'>): string => (g.scratch ? g.model.layers[0].name : g.cut);

/** Freeze every layer up to and including `boundary`; train everything above it. */
export function trainAbove(g: Pick<Grafted, 'model'>, boundary: string): void {
  const b = layerIndex(g.model, boundary);
  g.model.layers.forEach((layer, i) => {
    layer.trainable = i > b;
  });
}

/**
 * The boundary that leaves the top `blocks` blocks at or below the cut trainable (0: head only).
 * It is moved down to a cut point so the frozen part can still be computed once and cached.
 */
export function unfreezeBoundary(g: { base: ImageBase; model: tf.LayersModel; cut: string }, blocks: number): string {
  if (blocks <= 0 || g.base.kind !== 'layers') return g.cut;
  const baseModel = g.base.model;
  const below = g.base.blocks.filter((b) => b.start <= layerIndex(baseModel, g.cut));
  const first = below[Math.max(0, below.length - blocks)];
  const cuts = cutPoints(g.model);
  let boundary = layerIndex(g.model, baseModel.layers[first.start].name) - 1;
  while (boundary > 0 && !cuts.has(boundary)) boundary--;
  return g.model.layers[Math.max(0, boundary)].name;
}

/** Free what a graft owns: its model's weights and its trunk's session (the base is left alone). */
export async function disposeGrafted(g: Grafted): Promise<void> {
  g.model.dispose();
  await g.trunk?.release?.();
}
