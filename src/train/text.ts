// Training on texts: a linear head on a frozen text base's vectors (started at the linear probe,
// as image heads are), and glove's word vectors fine-tuned together with that head. The one-call
// trainTextClassifier (src/kinds/text.ts) is built from these and the TF-IDF baseline (tfidf.ts);
// experiments reuse them on vectors computed once.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import { gloveTextModel } from '../bases/text/glove.js';
import type { GloveVectors } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import type { TextSet } from '../data/text/types.js';
import { oneHot } from '../engine/tensors.js';
import { withSeed } from '../math/seed.js';
import { TRAIN_DEFAULTS, type TrainBudget } from './defaults.js';
import type { TrainEngine } from '../engine/onnx-train.js';
import { fitStage, type StageResult } from './fit.js';
import { initHeadByProbe, type ProbeHeadReport } from './probe-head.js';

export interface HeadTrainOptions extends TrainBudget {
  callbacks?: readonly Callback[];
  /** Where the head's (and glove's) steps run (default auto: ONNX Runtime where graft's step generator covers the model). */
  trainEngine?: TrainEngine;
}

export interface HeadFit {
  head: tf.LayersModel;
  /** How the head was started (undefined: fewer than 5 texts in some class, so from random weights). */
  probe?: ProbeHeadReport;
  /** The Adam epochs after it (undefined: no validation texts to judge them by, so the probe is kept). */
  stage?: StageResult;
}

/** Features (one row per sample) and their class indices. */
export type Labelled = { x: tf.Tensor; labels: Int32Array };

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
  const p = withDefaults(TRAIN_DEFAULTS, o);
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
        trainEngine: p.trainEngine,
        callbacks: p.callbacks,
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
export async function fineTuneGlove(glove: GloveVectors, train: TextSet, val: TextSet, o: HeadTrainOptions = {}): Promise<GloveFineTuned> {
  const p = withDefaults(TRAIN_DEFAULTS, o);
  const classes = train.classes.length;
  const text = gloveTextModel(glove, train.texts, { fineTune: false });
  const idsTrain = text.ids(train.texts, {
    onTruncate: (i) => tell(o.callbacks, 'onTextWarning', { kind: 'truncated', id: train.ids[i] }),
  });
  const idsVal = text.ids(val.texts, { onTruncate: (i) => tell(o.callbacks, 'onTextWarning', { kind: 'truncated', id: val.ids[i] }) });
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
        learningRate: p.learningRate * p.fineTuneFactor,
        batchSize: p.batchSize,
        patience: p.patience,
        keepInitial: true,
        trainEngine: p.trainEngine,
        callbacks: p.callbacks,
      }),
    );
    return { vocabulary: text.vocabulary, maxTokens: text.maxTokens, ids: text.ids, model, head, stage };
  } finally {
    tf.dispose([idsTrain, idsVal, y, yVal, ...pooled]);
  }
}
