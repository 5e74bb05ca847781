// From images to adapted classifiers: a base cut (auto: best LogME on the labelled source), the
// frozen part's pooled features for every domain computed once (and cached), then any number of
// methods and seeds trained on them. Built from the same pieces as `trainClassifier`.
import * as tf from '@tensorflow/tfjs';
import type { Base } from '../../bases/types.js';
import type { ImageSet } from '../../data/types.js';
import { rankCandidates, rankCuts } from '../../evaluate/rank.js';
import { classificationMetrics } from '../../evaluate/metrics.js';
import { disposeGrafted, graft } from '../../graft/graft.js';
import { resolveCut, type CutSpec } from '../../graft/cut.js';
import { layerIndex } from '../../graft/split.js';
import { usageError } from '../../errors.js';
import { imagesToTensor } from '../../train/tensors.js';
import type { FeatureCache } from '../../train/feature-cache.js';
import { extractFeatures } from '../../train/features.js';
import { frozenPart, headBoundary, type Engine } from '../../train/frozen.js';
import { adaBNModel } from './adabn.js';
import { accuracyOn, adaBN, trainAdaptation, type AdaptMethod, type AdaptOptions } from './adapt.js';

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
  /** AdaBN: the target's features through the trunk normalised with target statistics. */
  adabn?: { target: tf.Tensor; evalTarget?: tf.Tensor };
  /** Trunk trained with the adaptation network (the tensors above are then normalised images): a fresh copy per run. */
  trunk?: () => Promise<tf.LayersModel>;
  seconds: number;
}

/** Every domain's images through the base's frozen part at `cut` (auto: the best LogME on the source), pooled. */
export async function domainFeatures(
  base: Base,
  data: AdaptData,
  o: { cut?: CutSpec; engine?: Engine; cache?: FeatureCache; seed?: number; adabn?: boolean; onStep?: (s: string) => void } = {},
): Promise<DomainFeatures> {
  const t0 = performance.now();
  let cut = o.cut ?? 'auto';
  if (cut === 'auto' && base.model && rankCandidates(base, 'blocks').length >= 2) {
    o.onStep?.('ranking cuts on the source');
    cut = (await rankCuts(base, data.source.train, { cuts: 'blocks', seed: o.seed, engine: o.engine })).rows[0].cut;
  }
  const g = await graft(base, { classes: data.source.train.classes, cut });
  try {
    const part = await frozenPart(g, headBoundary(g), o.engine);
    const extract = async (name: string, set: ImageSet) => {
      o.onStep?.(`features: ${name}`);
      const { features } = await extractFeatures(part, set, { normalize: base.normalize, cache: o.cache });
      return features as tf.Tensor2D;
    };
    try {
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
      if (o.adabn) out.adabn = await adaBNFeatures(base, g.cut, data, o);
      out.seconds = (performance.now() - t0) / 1000;
      return out;
    } finally {
      await part.release?.();
    }
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
export async function domainImages(base: Base, data: AdaptData, o: { cut?: CutSpec } = {}): Promise<DomainFeatures> {
  const t0 = performance.now();
  if (!base.model) throw usageError(`${base.name} is a frozen base: its trunk cannot be trained (use the frozen trunk)`);
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
    adabn: { target, evalTarget },
    trunk,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The target's features with the trunk's BatchNorm statistics taken from the target (AdaBN). */
async function adaBNFeatures(
  base: Base,
  cut: string,
  data: AdaptData,
  o: { engine?: Engine; cache?: FeatureCache; seed?: number; onStep?: (s: string) => void },
): Promise<DomainFeatures['adabn']> {
  if (!base.model) return undefined;
  o.onStep?.('AdaBN: target statistics for every BatchNorm layer');
  const model = await adaBNModel(base.model, data.target, base.normalize, { seed: o.seed });
  const g = await graft({ ...base, model }, { classes: data.source.train.classes, cut });
  try {
    const part = await frozenPart(g, headBoundary(g), o.engine);
    try {
      const extract = async (set: ImageSet) =>
        (await extractFeatures(part, set, { normalize: base.normalize, cache: o.cache })).features as tf.Tensor2D;
      o.onStep?.('AdaBN: target features');
      return { target: await extract(data.target), evalTarget: data.evalTarget && (await extract(data.evalTarget)) };
    } finally {
      await part.release?.();
    }
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
  o: Omit<AdaptOptions, 'method'> = {},
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
      if (method === 'adabn') {
        if (!f.adabn) throw new Error('adabn needs domainFeatures(…, { adabn: true })');
        adaBN(r.model, f.adabn.target);
        evalTarget = f.adabn.evalTarget;
      }
      return {
        method,
        target: evalTarget && data.evalTarget ? scores(r.model, evalTarget, data.evalTarget) : undefined,
        source,
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
  const optional = [f.evalTarget, f.targetLabelled, f.adabn?.target, f.adabn?.evalTarget].filter((t): t is tf.Tensor => t !== undefined);
  tf.dispose([f.source.train, f.source.val, f.source.test, f.target, ...optional]);
}
