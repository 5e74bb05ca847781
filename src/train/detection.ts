// Staged fine-tuning of a detector, as trainGrafted does for classifiers: stage 1 trains the
// detection head on the frozen trunk's outputs (computed once per placed image, through the
// feature cache), stage 2 unfreezes the top block(s) at fineTuneFactor times the learning rate.
// Augmentation is a fixed number of randomly placed copies per image made before training, so
// the trunk still runs once per copy rather than once per epoch.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import { notify, type Callback } from '../core/callbacks.js';
import { GraftError, usageError } from '../core/errors.js';
import { placedImages, type PlacedSet } from '../data/detection/placed.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import { trainablePart, type Engine, type FrozenPart } from '../engine/frozen.js';
import { DEFAULT_TRAIN_ENGINE, tfjsOnly, type TrainEngine, type TrainEngineUsed } from '../engine/onnx-train.js';
import { stageRows, type Rows } from '../engine/stage-features.js';
import { range } from '../engine/tensors.js';
import { decodeGrids } from '../evaluate/detection-decode.js';
import { evaluateDetections, type Detection } from '../evaluate/detection.js';
import type { GraftedDetector } from '../graft/detect.js';
import { trainAbove, unfreezeBoundary } from '../graft/graft.js';
import { mulberry32 } from '../math/random.js';
import { withSeed } from '../math/seed.js';
import { detectionLoss } from './detection-loss.js';
import { encodeTargets, targetDepth } from './detection-targets.js';
import { TRAIN_DEFAULTS, type TrainBudget } from './defaults.js';
import { EarlyStopping, fitLoop, shuffledBatches } from './loop.js';

/** Detection's budget: more epochs than classification (a heatmap is learnt from few positive cells), smaller batches. */
export const DETECTION_DEFAULTS = {
  epochs: 40,
  batchSize: 16,
  learningRate: 1e-3,
  patience: 6,
  unfreeze: 1,
  fineTuneFactor: TRAIN_DEFAULTS.fineTuneFactor,
  /** Randomly placed copies per training image beside the letterboxed one. */
  augment: 5,
} as const;

export interface DetectionTrainOptions extends TrainBudget {
  /** Blocks below the cut fine-tuned in stage 2 (0: the head only). */
  unfreeze?: number;
  augment?: number;
  engine?: Engine;
  /** Asked for ONNX Runtime (`onnx`), a usage error: the CenterNet loss trains in TF.js. */
  trainEngine?: TrainEngine;
  cache?: FeatureCache;
  callbacks?: readonly Callback[];
}

export interface DetectionStageReport {
  stage: 'head' | 'fine-tune' | 'scratch';
  trainableFrom: string;
  engine: FrozenPart['engine'];
  /** Where the trainable part trained: TF.js, as the step generator has no CenterNet loss. */
  trainEngine: TrainEngineUsed;
  featureSeconds: number;
  features: { computed: number; cached: number };
  epochsRun: number;
  bestEpoch: number;
  bestValLoss: number;
  /** Validation AP and AP50 (letterboxed boxes) at the best epoch. */
  bestValAP: number;
  bestValAP50: number;
  seconds: number;
  blocks?: number;
}

export interface DetectionTrainResult {
  stages: DetectionStageReport[];
  unfreeze: number;
  seconds: number;
}

/** Targets of a placed set as one [n, h, w, C + 5] tensor. */
function targetsOf(set: PlacedSet, g: GraftedDetector): tf.Tensor4D {
  const gridH = g.input.height / g.stride;
  const gridW = g.input.width / g.stride;
  const depth = targetDepth(g.classes.length);
  const all = new Float32Array(set.placed.length * gridH * gridW * depth);
  set.placed.forEach((p, i) =>
    all.set(encodeTargets(p.objects, { classes: g.classes.length, stride: g.stride, gridH, gridW }), i * gridH * gridW * depth),
  );
  return tf.tensor4d(all, [set.placed.length, gridH, gridW, depth]);
}

/**
 * `model` on validation rows `x`: its mean detection loss against `y`, and COCO AP and AP50 of
 * its decoded boxes against the placed boxes (canvas pixels; AP does not change with the scale).
 */
export function validateDetector(
  model: tf.LayersModel,
  x: Rows,
  y: tf.Tensor4D,
  val: PlacedSet,
  stride: number,
  batchSize = 32,
): { valLoss: number; valAP: number; valAP50: number } {
  const n = x.n;
  const classes = val.classes.length;
  let sum = 0;
  const detections: Detection[][] = [];
  for (let s = 0; s < n; s += batchSize) {
    const size = Math.min(batchSize, n - s);
    const pred = tf.tidy(() => model.predict(x.take(range(s, s + size))) as tf.Tensor4D);
    sum += tf.tidy(() => detectionLoss(pred, y.slice(s, size), classes).dataSync()[0] * size);
    const [, gridH, gridW] = pred.shape;
    const data = pred.dataSync() as Float32Array;
    pred.dispose();
    detections.push(...decodeGrids(data, size, gridH, gridW, { classes, stride, threshold: VALIDATION_THRESHOLD }));
  }
  const m = evaluateDetections(
    val.placed.map((p) => ({ objects: p.objects })),
    detections,
    val.classes,
  );
  return { valLoss: sum / Math.max(1, n), valAP: m.ap, valAP50: m.ap50 };
}

/** Peaks kept when validating: nearly all, as AP integrates over the whole ranking. */
const VALIDATION_THRESHOLD = 0.01;

interface Stage {
  name: DetectionStageReport['stage'];
  boundary: string;
  learningRate: number;
  blocks?: number;
}

type Options = DetectionTrainOptions & Required<Pick<DetectionTrainOptions, keyof typeof DETECTION_DEFAULTS>>;

async function runStage(
  g: GraftedDetector,
  data: { train: PlacedSet; val: PlacedSet },
  stage: Stage,
  o: Options,
  index: number,
  y: tf.Tensor4D,
  yVal: tf.Tensor4D,
): Promise<DetectionStageReport> {
  const trainEngine = tfjsOnly(o.trainEngine ?? DEFAULT_TRAIN_ENGINE, "CenterNet's loss has no ONNX Runtime step");
  await notify(o.callbacks, 'onStageBegin', stage.name);
  const {
    rows: [x, xVal],
    stats: features,
    engine,
    seconds: featureSeconds,
  } = await stageRows(g, stage.boundary, [placedImages(data.train), placedImages(data.val)], {
    stage: stage.name,
    ...o,
    batchSize: 32,
  });
  trainAbove(g, stage.boundary);
  const above = trainablePart(g, stage.boundary);
  const classes = g.classes.length;
  const optimizer = tf.train.adam(stage.learningRate);
  try {
    const validate = () => validateDetector(above, xVal, yVal, data.val, g.stride);
    // Stopping watches AP50, the number detection is judged by: the focal loss on validation
    // images rises as scores sharpen while the boxes' ranking still improves. A fine-tuning
    // stage's starting point (the trained head) competes with its epochs.
    const stopping = new EarlyStopping({
      monitor: 'valAP50',
      mode: 'max',
      patience: o.patience,
      initial: stage.name === 'fine-tune' ? validate() : undefined,
    });
    const rand = mulberry32((o.seed ?? 0) + index);
    const n = x.n;
    const variables = above.trainableWeights.map((w) => w.read() as tf.Variable);
    const started = performance.now();
    const history = await withSeed(o.seed === undefined ? undefined : o.seed + index, async () => {
      try {
        return await fitLoop(
          above,
          {
            stage: stage.name,
            epochs: o.epochs,
            batches: () => shuffledBatches(n, o.batchSize, rand),
            step: (batch) => {
              const [xb, idx] = [x.take(batch), tf.tensor1d(batch, 'int32')];
              const cost = optimizer.minimize(
                () => detectionLoss(above.apply(xb, { training: true }) as tf.Tensor4D, tf.gather(y, idx), classes),
                true,
                variables,
              )!;
              const loss = cost.dataSync()[0];
              tf.dispose([cost, idx, xb]);
              return { size: batch.length, loss };
            },
            validate,
          },
          [stopping, ...(o.callbacks ?? [])],
        );
      } catch (e) {
        // TF.js wasm's heap is bounded (4 GiB): training every layer at detection sizes fills it fast.
        if (e instanceof WebAssembly.RuntimeError && /memory/.test(e.message))
          throw new GraftError(
            `TF.js wasm ran out of memory training ${stage.name} in batches of ${o.batchSize}: lower --batch-size (from scratch at 320x320, 2 fits)`,
          );
        throw e;
      }
    });
    await notify(o.callbacks, 'onStageEnd', stage.name);
    return {
      stage: stage.name,
      trainableFrom: stage.boundary,
      engine,
      trainEngine,
      featureSeconds,
      features,
      epochsRun: history.epochs.length,
      bestEpoch: stopping.bestEpoch,
      bestValLoss: stopping.bestMetrics.valLoss,
      bestValAP: stopping.bestMetrics.valAP,
      bestValAP50: stopping.best,
      seconds: (performance.now() - started) / 1000,
      blocks: stage.blocks,
    };
  } finally {
    optimizer.dispose();
    x.dispose();
    xVal.dispose();
    if (above !== g.model) above.dispose();
  }
}

/** Train a grafted detector on placed images: the head, then `unfreeze` blocks (or everything, from scratch). */
export async function trainDetectorStages(
  g: GraftedDetector,
  data: { train: PlacedSet; val: PlacedSet },
  options: DetectionTrainOptions = {},
): Promise<DetectionTrainResult> {
  const o: Options = withDefaults(DETECTION_DEFAULTS, options);
  if (!(Number.isInteger(o.unfreeze) && o.unfreeze >= 0)) throw usageError(`unfreeze must be a whole number >= 0, got ${o.unfreeze}`);
  if (data.train.placed.length === 0) throw usageError('no training image could be read');
  if (data.val.placed.length === 0) throw usageError('no validation image could be read: detection needs at least one to stop training');
  const started = performance.now();
  const y = targetsOf(data.train, g);
  const yVal = targetsOf(data.val, g);
  const stages: DetectionStageReport[] = [];
  const run = async (s: Stage) => stages.push(await runStage(g, data, s, o, stages.length, y, yVal));
  let unfreeze = 0;
  try {
    if (g.scratch) await run({ name: 'scratch', boundary: g.model.layers[0].name, learningRate: o.learningRate });
    else {
      await run({ name: 'head', boundary: g.cut, learningRate: o.learningRate });
      const boundary = unfreezeBoundary(g, o.unfreeze);
      if (boundary !== g.cut) {
        await run({ name: 'fine-tune', boundary, learningRate: o.learningRate * o.fineTuneFactor, blocks: o.unfreeze });
        unfreeze = o.unfreeze;
      }
    }
  } finally {
    tf.dispose([y, yVal]);
    trainAbove(g, g.scratch ? g.model.layers[0].name : g.cut);
  }
  return { stages, unfreeze, seconds: (performance.now() - started) / 1000 };
}
