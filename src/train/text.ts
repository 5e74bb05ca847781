// Text classifiers, in three shapes: a frozen text base's vectors under a linear head (use-lite,
// glove-100d), glove's word vectors fine-tuned together with that head, and the TF-IDF logistic
// regression a transferred base has to beat (scratch). The mid-level pieces (embedTexts,
// fitTextHead, fineTuneGlove) are what trainText is built from, and what experiments reuse on
// vectors computed once.
import * as tf from '@tensorflow/tfjs';
import { gloveEncoder, gloveTextModel, loadGlove, GLOVE_NAME, type GloveVectors } from '../bases/text/glove.js';
import type { TextEncoder } from '../bases/text/types.js';
import { loadUseLite, USE_LITE_NAME } from '../bases/text/use-lite.js';
import type { TextSet } from '../data/text/types.js';
import { usageError } from '../errors.js';
import { digest } from '../io/digest.js';
import type { FeatureCache } from './feature-cache.js';
import { fitStage, type EpochInfo, type StageResult } from './fit.js';
import { initHeadByProbe, type ProbeHeadReport } from './probe-head.js';
import { withSeed } from './seed.js';
import { oneHot } from './tensors.js';
import { fitTfidf, type TfidfClassifier } from './tfidf.js';
import { TRAIN_DEFAULTS } from './train.js';

export const TEXT_BASES = [USE_LITE_NAME, GLOVE_NAME] as const;
export type TextBaseName = (typeof TEXT_BASES)[number];
export const isTextBase = (name: string): name is TextBaseName => (TEXT_BASES as readonly string[]).includes(name);

/** The frozen encoder a text base names; glove vectors already loaded can be passed in. */
export async function loadTextEncoder(name: TextBaseName, o: { glove?: GloveVectors } = {}): Promise<TextEncoder> {
  return name === USE_LITE_NAME ? loadUseLite() : gloveEncoder({ glove: o.glove ?? (await loadGlove()) });
}

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
  const keys = texts.map((t) => digest('text', encoder.name, t));
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

export interface HeadTrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  seed?: number;
  onEpoch?: (e: EpochInfo) => void;
}

export interface HeadFit {
  head: tf.LayersModel;
  /** How the head was started (undefined: fewer than 5 texts in some class, so from random weights). */
  probe?: ProbeHeadReport;
  /** The Adam epochs after it (undefined: no validation texts to judge them by, so the probe is kept). */
  stage?: StageResult;
}

type Labelled = { x: tf.Tensor; labels: Int32Array };

/** A softmax layer on `dim`-long vectors. */
function linearHead(dim: number, classes: number): tf.LayersModel {
  const input = tf.input({ shape: [dim], name: 'text_vector' });
  const output = tf.layers.dense({ units: classes, activation: 'softmax', name: 'head' }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'text_head' });
}

/**
 * A linear head on text vectors: started at the cross-validated linear probe (as image heads
 * are), then Adam epochs that must beat it on validation loss to be kept. Without validation
 * texts the probe is the answer (its L2 was already chosen by cross-validation on the training
 * texts); without a probe (too few texts per class) Adam trains from random weights.
 */
export async function fitTextHead(train: Labelled, classes: number, val: Labelled | undefined, o: HeadTrainOptions = {}): Promise<HeadFit> {
  const p = { ...TRAIN_DEFAULTS, ...o };
  const head = await withSeed(p.seed, async () => linearHead(train.x.shape[1]!, classes));
  const probe = await initHeadByProbe(head, train.x, train.labels, classes, p.seed);
  if (probe && !val?.labels.length) return { head, probe };
  const y = oneHot(train.labels, classes);
  const yVal = val && oneHot(val.labels, classes);
  try {
    const stage = await withSeed(p.seed, () =>
      fitStage(head, train.x, y, val && [val.x, yVal!], {
        stage: 'head',
        epochs: p.epochs,
        learningRate: p.learningRate,
        batchSize: p.batchSize,
        patience: p.patience,
        keepInitial: true,
        onEpoch: p.onEpoch,
      }),
    );
    return { head, probe, stage };
  } finally {
    tf.dispose([y, yVal!].filter(Boolean));
  }
}

/** glove-100d with its word vectors trained: ids in, class probabilities out. */
export interface GloveClassifierModel {
  /** Words with their own vectors, ids from 2 (0 pads, 1 is the shared out-of-vocabulary vector). */
  vocabulary: string[];
  maxTokens: number;
  ids(texts: string[], o?: { onTruncate?: (index: number) => void }): tf.Tensor2D;
  /** ids → probabilities; layers glove_vectors, glove_mean, head. */
  model: tf.LayersModel;
}

export interface GloveFineTuned extends GloveClassifierModel {
  head: HeadFit;
  /** The epochs that trained the word vectors and head together. */
  stage: StageResult;
}

/**
 * Fine-tunes glove: first the head on the frozen mean vectors (fitTextHead), then the word
 * vectors, the OOV vector and the head together at a tenth of the learning rate (the image
 * path's fine-tuning rate), kept only if they beat the frozen start on validation loss.
 */
export async function fineTuneGlove(
  glove: GloveVectors,
  train: TextSet,
  val: TextSet,
  o: HeadTrainOptions & { onTruncate?: (id: string) => void } = {},
): Promise<GloveFineTuned> {
  const p = { ...TRAIN_DEFAULTS, ...o };
  const classes = train.classes.length;
  const text = gloveTextModel(glove, train.texts, { fineTune: false });
  const idsTrain = text.ids(train.texts, { onTruncate: (i) => o.onTruncate?.(train.ids[i]) });
  const idsVal = text.ids(val.texts, { onTruncate: (i) => o.onTruncate?.(val.ids[i]) });
  const pooled = [text.model.predict(idsTrain) as tf.Tensor, text.model.predict(idsVal) as tf.Tensor];
  const y = oneHot(train.labels, classes);
  const yVal = oneHot(val.labels, classes);
  try {
    const head = await fitTextHead({ x: pooled[0], labels: train.labels }, classes, { x: pooled[1], labels: val.labels }, o);
    text.model.getLayer('glove_vectors').trainable = true;
    const model = tf.model({
      inputs: text.model.inputs,
      outputs: head.head.apply(text.model.outputs[0]) as tf.SymbolicTensor,
      name: 'glove_classifier',
    });
    const stage = await withSeed(p.seed, () =>
      fitStage(model, idsTrain, y, [idsVal, yVal], {
        stage: 'fine-tune',
        epochs: p.epochs,
        learningRate: p.learningRate / 10,
        batchSize: p.batchSize,
        patience: p.patience,
        keepInitial: true,
        onEpoch: p.onEpoch,
      }),
    );
    return { vocabulary: text.vocabulary, maxTokens: text.maxTokens, ids: text.ids, model, head, stage };
  } finally {
    tf.dispose([idsTrain, idsVal, y, yVal, ...pooled]);
  }
}

export type TextMode = 'frozen' | 'fine-tuned' | 'scratch';

/** A trained text classifier of any of the three shapes. */
export interface TextClassifier {
  /** The text base, or 'tfidf' for scratch. */
  base: TextBaseName | 'tfidf';
  mode: TextMode;
  classes: string[];
  /** Class probabilities, row-major texts x classes. */
  predict(texts: string[], o?: { onProgress?: (done: number, total: number) => void }): Promise<Float32Array>;
  /** What a saved copy needs: the parts behind `predict`. */
  parts: { encoder: TextEncoder; head: tf.LayersModel } | { glove: GloveClassifierModel } | { tfidf: TfidfClassifier };
  dispose(): void;
}

export interface TextTrainOptions extends HeadTrainOptions {
  base: TextBaseName;
  /** Train the TF-IDF logistic regression on the same texts instead (the base is not used). */
  scratch?: boolean;
  /** glove-100d only: train the word vectors too. */
  fineTune?: boolean;
  cache?: FeatureCache;
  onEmbed?: (done: number, total: number) => void;
  /** A text's id each time one is cut to the base's token limit. */
  onTruncate?: (id: string) => void;
}

export interface TextTrainResult {
  classifier: TextClassifier;
  /** What trained it: the probe and head epochs, or the fine-tuning too, or the TF-IDF λ search. */
  report: { probe?: ProbeHeadReport; head?: StageResult; fineTune?: StageResult; tfidf?: { l2: number; cv: TfidfClassifier['cv'] } };
  seconds: number;
}

/** A frozen encoder and a head as one classifier. */
export function frozenClassifier(encoder: TextEncoder, head: tf.LayersModel, classes: string[]): TextClassifier {
  return {
    base: encoder.name as TextBaseName,
    mode: 'frozen',
    classes,
    parts: { encoder, head },
    async predict(texts, o = {}) {
      const x = await encoder.embed(texts, { onProgress: o.onProgress });
      const p = head.predict(x) as tf.Tensor;
      const out = (await p.data()) as Float32Array;
      tf.dispose([x, p]);
      return out;
    },
    dispose() {
      head.dispose();
      encoder.dispose();
    },
  };
}

export function gloveClassifier(glove: GloveClassifierModel, classes: string[]): TextClassifier {
  return {
    base: GLOVE_NAME,
    mode: 'fine-tuned',
    classes,
    parts: { glove },
    async predict(texts, o = {}) {
      const out = new Float32Array(texts.length * classes.length);
      // Batches bound the [batch, tokens, 100] activations of long texts.
      for (let s = 0; s < texts.length; s += 64) {
        const ids = glove.ids(texts.slice(s, s + 64));
        const p = glove.model.predict(ids) as tf.Tensor;
        out.set((await p.data()) as Float32Array, s * classes.length);
        tf.dispose([ids, p]);
        o.onProgress?.(Math.min(s + 64, texts.length), texts.length);
      }
      return out;
    },
    dispose: () => glove.model.dispose(),
  };
}

export function tfidfClassifier(tfidf: TfidfClassifier, classes: string[]): TextClassifier {
  return { base: 'tfidf', mode: 'scratch', classes, parts: { tfidf }, predict: async (texts) => tfidf.proba(texts), dispose() {} };
}

/**
 * Train a text classifier on `train`, judged on `val` (see fitTextHead, fineTuneGlove). Keras's
 * fit in one call: defaults everywhere, the pieces above for anything else.
 */
export async function trainText(train: TextSet, val: TextSet | undefined, o: TextTrainOptions): Promise<TextTrainResult> {
  const started = performance.now();
  const classes = train.classes.length;
  if (classes < 2) throw usageError(`a text classifier needs at least 2 classes, found ${classes}`);
  const seconds = () => (performance.now() - started) / 1000;
  if (o.scratch) {
    const tfidf = fitTfidf(train.texts, train.labels, classes, { seed: o.seed });
    return { classifier: tfidfClassifier(tfidf, train.classes), report: { tfidf: { l2: tfidf.l2, cv: tfidf.cv } }, seconds: seconds() };
  }
  if (o.fineTune) {
    if (o.base !== GLOVE_NAME) throw usageError(`only ${GLOVE_NAME} can be fine-tuned (${o.base} is a frozen graph)`);
    if (!val?.texts.length) throw usageError('fine-tuning needs validation texts to decide when to stop');
    const glove = await fineTuneGlove(await loadGlove(), train, val, o);
    return {
      classifier: gloveClassifier(glove, train.classes),
      report: { probe: glove.head.probe, head: glove.head.stage, fineTune: glove.stage },
      seconds: seconds(),
    };
  }
  const encoder = await loadTextEncoder(o.base);
  const embed = async (set: TextSet, progress?: EmbedOptions['onProgress']) =>
    embedTexts(encoder, set.texts, { cache: o.cache, onProgress: progress, onTruncate: (i) => o.onTruncate?.(set.ids[i]) });
  const total = train.texts.length + (val?.texts.length ?? 0);
  const x = await embed(train, (done) => o.onEmbed?.(done, total));
  const xVal = val && (await embed(val, (done) => o.onEmbed?.(train.texts.length + done, total)));
  try {
    const fit = await fitTextHead({ x, labels: train.labels }, classes, xVal && { x: xVal, labels: val!.labels }, o);
    return {
      classifier: frozenClassifier(encoder, fit.head, train.classes),
      report: { probe: fit.probe, head: fit.stage },
      seconds: seconds(),
    };
  } finally {
    tf.dispose([x, xVal!].filter(Boolean));
  }
}
