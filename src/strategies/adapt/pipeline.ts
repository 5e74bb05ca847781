// From images to adapted classifiers: a base cut (auto: best LogME on the labelled source), the
// frozen part's pooled features for every domain computed once (and cached), then any number of
// methods and seeds trained on them. Built from the same pieces as `trainImageClassifier`.
import * as tf from '@tensorflow/tfjs';
import type { TrainEngineUsed } from '../../engine/onnx-train.js';
import type { ImageBase, LayersBase } from '../../bases/types.js';
import { tell } from '../../core/callbacks.js';
import { usageError } from '../../core/errors.js';
import type { ImageSet } from '../../data/types.js';
import type { FeatureCache } from '../../engine/feature-cache.js';
import { extractFeatures } from '../../engine/features.js';
import { headBoundary, withFrozenPart, type Engine } from '../../engine/frozen.js';
import { imagesToTensor } from '../../engine/tensors.js';
import { classificationMetrics } from '../../evaluate/metrics.js';
import { rankCandidates, rankCuts } from '../../evaluate/rank.js';
import { resolveCut, type CutSpec } from '../../graft/cut.js';
import { disposeGrafted, graft } from '../../graft/graft.js';
import { layerIndex } from '../../graft/split.js';
import { adaBNModel } from './adabn.js';
import { accuracyOn, trainAdaptation } from './adapt.js';
import { ADAPTATION_METHODS, type AdaptMethod } from './methods/index.js';
import type { AdaptOptions } from './types.js';

/** What the methods read of a data set once its features are computed: classes and labels (of images or texts). */
export interface LabelledSet {
  classes: string[];
  labels: Int32Array;
}

export interface AdaptData<S extends LabelledSet = ImageSet> {
  /** Labelled source: trained on, validated on (checkpoints), tested on (what adaptation costs the source). */
  source: { train: S; val: S; test: S };
  /** Unlabelled target (labels, if any, are never read). */
  target: S;
  /** Labelled target the result is reported on. */
  evalTarget?: S;
  /** Labelled target let into training (semi-supervised adaptation), and the target-oracle's training set. */
  targetLabelled?: S;
}

export interface DomainFeatures {
  cut: string;
  source: { train: tf.Tensor; val: tf.Tensor; test: tf.Tensor };
  target: tf.Tensor;
  evalTarget?: tf.Tensor;
  targetLabelled?: tf.Tensor;
  /** The target's features through the trunk normalised with the target's own BatchNorm statistics (AdaBN). */
  targetStatistics?: { target: tf.Tensor; evalTarget?: tf.Tensor };
  /** Trunk trained with the adaptation network (the tensors above are then normalised images): a fresh copy per run. */
  trunk?: () => Promise<tf.LayersModel>;
  seconds: number;
}

export interface DomainFeatureOptions {
  cut?: CutSpec;
  engine?: Engine;
  cache?: FeatureCache;
  seed?: number;
  /** Also the target's features with the trunk's BatchNorm statistics taken from the target (methods with `trunkStatistics`: AdaBN). */
  trunkStatistics?: boolean;
  /** Each pass over a domain, in words (onStep). */
  callbacks?: AdaptOptions['callbacks'];
}

/** Every domain's images through the base's frozen part at `cut` (auto: the best LogME on the source), pooled. */
export async function domainFeatures(base: ImageBase, data: AdaptData, o: DomainFeatureOptions = {}): Promise<DomainFeatures> {
  const t0 = performance.now();
  let cut = o.cut ?? 'auto';
  if (cut === 'auto' && base.kind === 'layers' && rankCandidates(base, 'blocks').length >= 2) {
    tell(o.callbacks, 'onStep', 'ranking cuts on the source');
    cut = (await rankCuts(base, data.source.train, { cuts: 'blocks', seed: o.seed, engine: o.engine })).rows[0].cut;
  }
  const g = await graft(base, { classes: data.source.train.classes, cut });
  try {
    return await withFrozenPart(g, headBoundary(g), o.engine, async (part) => {
      const extract = async (name: string, set: ImageSet) => {
        tell(o.callbacks, 'onStep', `features: ${name}`);
        const { features } = await extractFeatures(part, set, { normalize: base.normalize, cache: o.cache });
        return features as tf.Tensor2D;
      };
      const out: DomainFeatures = {
        cut: g.cut,
        source: {
          train: await extract('source train', data.source.train),
          val: await extract('source val', data.source.val),
          test: await extract('source test', data.source.test),
        },
        target: await extract('target', data.target),
        seconds: 0,
      };
      if (data.evalTarget) out.evalTarget = await extract('target evaluation', data.evalTarget);
      if (data.targetLabelled)
        out.targetLabelled = data.targetLabelled === data.target ? out.target : await extract('labelled target', data.targetLabelled);
      // A frozen graph or ONNX trunk has no BatchNorm graft can re-estimate (an exporter folds it
      // into the convolutions): its target features are the statistics' features, and AdaBN adapts
      // the adaptation network's own BatchNorm alone.
      if (o.trunkStatistics)
        out.targetStatistics =
          base.kind === 'layers'
            ? await targetStatisticsFeatures(base, g.cut, data, o)
            : { target: out.target, evalTarget: out.evalTarget };
      out.seconds = (performance.now() - t0) / 1000;
      return out;
    });
  } finally {
    await disposeGrafted(g);
  }
}

/**
 * Every domain's images, normalised for `base`, with a factory for a trainable copy of the base up
 * to `cut`: adaptation then trains the trunk too, as Ganin et al. train their whole network (and
 * a small base at small images can afford it). AdaBN then adapts the adaptation network's
 * BatchNorm; the trunk's are the base's.
 */
export async function domainImages(base: ImageBase, data: AdaptData, o: { cut?: CutSpec } = {}): Promise<DomainFeatures> {
  const t0 = performance.now();
  if (base.kind !== 'layers') throw usageError(`${base.name} is a frozen base: its trunk cannot be trained (use the frozen trunk)`);
  const cut = resolveCut(base, o.cut ?? 'auto');
  const classes = data.source.train.classes;
  const trunk = async () => {
    const g = await graft(base, { classes, cut });
    const at = layerIndex(g.model, g.cut);
    g.model.layers.forEach((l, i) => (i > at ? l.dispose() : (l.trainable = true)));
    return tf.model({ inputs: g.model.inputs, outputs: g.model.getLayer(g.cut).output as tf.SymbolicTensor });
  };
  const images = (set: ImageSet) => imagesToTensor(set, base.normalize);
  const target = images(data.target);
  const evalTarget = data.evalTarget && images(data.evalTarget);
  return {
    cut,
    source: { train: images(data.source.train), val: images(data.source.val), test: images(data.source.test) },
    target,
    evalTarget,
    // The oracle's labelled target is often the very set the methods see unlabelled: one tensor then.
    targetLabelled: data.targetLabelled && (data.targetLabelled === data.target ? target : images(data.targetLabelled)),
    targetStatistics: { target, evalTarget },
    trunk,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The target's features with the trunk's BatchNorm statistics taken from the target (AdaBN). */
async function targetStatisticsFeatures(
  base: LayersBase,
  cut: string,
  data: AdaptData,
  o: DomainFeatureOptions,
): Promise<DomainFeatures['targetStatistics']> {
  tell(o.callbacks, 'onStep', 'AdaBN: target statistics for every BatchNorm layer');
  const model = await adaBNModel(base.model, data.target, base.normalize, { seed: o.seed });
  const g = await graft({ ...base, model }, { classes: data.source.train.classes, cut });
  try {
    return await withFrozenPart(g, headBoundary(g), o.engine, async (part) => {
      const extract = async (set: ImageSet) =>
        (await extractFeatures(part, set, { normalize: base.normalize, cache: o.cache })).features as tf.Tensor2D;
      tell(o.callbacks, 'onStep', 'AdaBN: target features');
      return { target: await extract(data.target), evalTarget: data.evalTarget && (await extract(data.evalTarget)) };
    });
  } finally {
    await disposeGrafted(g);
    model.dispose();
  }
}

export interface AdaptReport {
  method: AdaptMethod | 'target-oracle';
  target?: { accuracy: number; macroF1: number };
  source: { accuracy: number };
  checkpoint: string;
  pseudoLabels?: number[];
  seconds: number;
  /** Where the adaptation network trained. */
  trainEngine: TrainEngineUsed;
}

function scores(model: tf.LayersModel, x: tf.Tensor, set: LabelledSet) {
  const predicted = tf.tidy(() => Array.from((model.predict(x, { batchSize: 256 }) as tf.Tensor).argMax(1).dataSync()));
  const m = classificationMetrics(Array.from(set.labels), predicted, set.classes);
  return { accuracy: m.accuracy, macroF1: m.macroF1 };
}

/**
 * One method on precomputed features. `target-oracle` trains the same network on the labelled
 * target images instead of the source (the upper bound adaptation is measured against).
 */
export async function runAdaptation(
  f: DomainFeatures,
  data: AdaptData<LabelledSet>,
  method: AdaptMethod | 'target-oracle',
  o: AdaptOptions = {},
): Promise<AdaptReport> {
  const t0 = performance.now();
  const classes = data.source.train.classes.length;
  let train = { x: f.source.train, y: data.source.train.labels };
  const val = { x: f.source.val, y: data.source.val.labels };
  let joined: tf.Tensor | undefined;
  if (method === 'target-oracle' || data.targetLabelled) {
    if (!data.targetLabelled || !f.targetLabelled) throw new Error('target-oracle needs labelled target images');
    if (method === 'target-oracle') train = { x: f.targetLabelled, y: data.targetLabelled.labels };
    else {
      joined = tf.concat([f.source.train, f.targetLabelled]);
      train = { x: joined, y: Int32Array.from([...data.source.train.labels, ...data.targetLabelled.labels]) };
    }
  }
  try {
    const r = await trainAdaptation({ train, val }, f.target, classes, {
      ...o,
      trunk: f.trunk,
      method: method === 'target-oracle' ? 'none' : method,
    });
    try {
      // AdaBN normalises each domain with its own statistics: the source is scored before the switch.
      const source = { accuracy: accuracyOn(r.model, f.source.test, data.source.test.labels) };
      let evalTarget = f.evalTarget;
      const adaptTo = method === 'target-oracle' ? undefined : ADAPTATION_METHODS[method].adaptTo;
      if (adaptTo) {
        if (!f.targetStatistics) throw new Error(`${method} needs domainFeatures(…, { trunkStatistics: true })`);
        adaptTo(r.model, f.targetStatistics.target);
        evalTarget = f.targetStatistics.evalTarget;
      }
      return {
        method,
        target: evalTarget && data.evalTarget ? scores(r.model, evalTarget, data.evalTarget) : undefined,
        source,
        trainEngine: r.trainEngine,
        checkpoint: r.checkpoint,
        pseudoLabels: r.pseudoLabels,
        seconds: (performance.now() - t0) / 1000,
      };
    } finally {
      r.model.dispose();
    }
  } finally {
    joined?.dispose();
  }
}

export function disposeDomainFeatures(f: DomainFeatures): void {
  const optional = [f.evalTarget, f.targetLabelled, f.targetStatistics?.target, f.targetStatistics?.evalTarget].filter(
    (t): t is tf.Tensor => t !== undefined,
  );
  tf.dispose([f.source.train, f.source.val, f.source.test, f.target, ...optional]);
}
