// Staged fine-tuning of a detector, as trainGrafted does for classifiers: stage 1 trains the
// detection head on the frozen trunk's outputs (computed once per placed image, through the
// feature cache), stage 2 unfreezes the top block(s) at fineTuneFactor times the learning rate.
// Augmentation is a fixed number of randomly placed copies per image made before training, so
// the trunk still runs once per copy rather than once per epoch. On a frozen ONNX base the frozen
// part is the base's trunk (frozenPart runs it, the cache keeps its maps) and the head stage is
// the only one.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import type { Callback } from '../core/callbacks.js';
import { GraftError, usageError } from '../core/errors.js';
import { placedImages, type PlacedSet } from '../data/detection/placed.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import type { Engine } from '../engine/frozen.js';
import { DEFAULT_TRAIN_ENGINE, onnxTrainerFor, type OnnxTrainer, type TrainEngine } from '../engine/onnx-train.js';
import { stageRows, type Rows } from '../engine/stage-features.js';
import { gatherRows, range } from '../engine/tensors.js';
import { decodeGrids } from '../evaluate/detection-decode.js';
import { evaluateDetections, type Detection } from '../evaluate/detection.js';
import type { GraftedDetector } from '../graft/detect.js';
import { mulberry32 } from '../math/random.js';
import { withSeed } from '../math/seed.js';
import { DETECTION_LOSS_WEIGHTS, detectionLoss } from './detection-loss.js';
import { encodeTargets, targetDepth } from './detection-targets.js';
import { TRAIN_DEFAULTS, type TrainBudget } from './defaults.js';
import { trainStages, type StageInputs, type StageTask, type TrainResult } from './driver.js';
import { EarlyStopping, fitLoop, shuffledBatches, type TrainingLoop } from './loop.js';

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
  /**
   * Blocks below the cut fine-tuned in stage 2 (0: the head only; 'auto' tries 1, 2, … and keeps
   * the best validation AP50). On a frozen base nothing below the cut trains: the head stage is
   * the only one and the result's `unfreeze` is 0, whatever is asked (as for classifiers).
   */
  unfreeze?: number | 'auto';
  augment?: number;
  engine?: Engine;
  /** Where the stages' steps run (default auto: ONNX Runtime, where the step generator knows every layer). */
  trainEngine?: TrainEngine;
  cache?: FeatureCache;
  callbacks?: readonly Callback[];
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

/** One batch of validation rows: its grid ([n, h, w, C + 4], TF.js's layout) and mean detection loss, on either engine. */
type ValidationForward = (indices: number[]) => Promise<{ loss: number; grid: Float32Array }>;

/**
 * Validation rows through `forward`: their mean detection loss, and COCO AP and AP50 of the
 * decoded boxes against the placed boxes (canvas pixels; AP does not change with the scale).
 */
async function validateDetector(
  forward: ValidationForward,
  n: number,
  val: PlacedSet,
  grid: { height: number; width: number; stride: number },
  batchSize = 32,
): Promise<{ valLoss: number; valAP: number; valAP50: number; valFitness: number }> {
  let sum = 0;
  const detections: Detection[][] = [];
  const o = { classes: val.classes.length, stride: grid.stride, threshold: VALIDATION_THRESHOLD };
  for (let s = 0; s < n; s += batchSize) {
    const idx = range(s, Math.min(n, s + batchSize));
    const { loss, grid: out } = await forward(idx);
    sum += loss * idx.length;
    detections.push(...decodeGrids(out, idx.length, grid.height, grid.width, o));
  }
  const m = evaluateDetections(
    val.placed.map((p) => ({ objects: p.objects })),
    detections,
    val.classes,
  );
  return { valLoss: sum / Math.max(1, n), valAP: m.ap, valAP50: m.ap50, valFitness: fitness(m) };
}

/** The model in TF.js on rows of `x` (contiguous, as validation takes them) against those of `y`. */
function tfjsForward(model: tf.LayersModel, x: Rows, y: tf.Tensor4D, classes: number): ValidationForward {
  return async (idx) => {
    const pred = tf.tidy(() => model.predict(x.take(idx)) as tf.Tensor4D);
    const loss = tf.tidy(() => detectionLoss(pred, y.slice(idx[0], idx.length), classes).dataSync()[0]);
    const grid = pred.dataSync() as Float32Array;
    pred.dispose();
    return { loss, grid };
  };
}

/** Rows of a target tensor as plain values, its values read once: what a step on ONNX Runtime is fed. */
function targetRows(y: tf.Tensor4D): (indices: readonly number[]) => { data: Float32Array; dims: number[] } {
  const ys = y.dataSync() as Float32Array;
  const row = ys.length / y.shape[0];
  return (indices) => ({ data: gatherRows(ys, row, indices), dims: [indices.length, ...y.shape.slice(1)] });
}

/** Peaks kept when validating: nearly all, as AP integrates over the whole ranking. */
const VALIDATION_THRESHOLD = 0.01;

/**
 * What early stopping keeps: YOLOv5's fitness, 0.1·AP50 + 0.9·AP@[.5:.95] (`fitness` in
 * ultralytics/yolov5's `utils/metrics.py`), COCO's own metric with AP50 breaking its near-ties. AP50 alone saturates
 * on a small validation set while the boxes still tighten: on nanodet with 120 Penn-Fudan
 * images it stopped runs at test AP 0.44-0.56 that reach 0.59-0.63 when let go on (issue 31).
 */
const fitness = (m: { ap50: number; ap: number }) => 0.1 * m.ap50 + 0.9 * m.ap;

type Options = DetectionTrainOptions & Required<Pick<DetectionTrainOptions, keyof typeof DETECTION_DEFAULTS>>;

/**
 * Detection's stages: the frozen part's outputs as rows (a scratch stage reads its images batch by
 * batch), CenterNet targets and loss (on ONNX Runtime or in TF.js), early stopping on validation AP50.
 */
function detectionTask(
  g: GraftedDetector,
  data: { train: PlacedSet; val: PlacedSet },
  o: Options,
  targets: tf.Tensor4D[],
): StageTask<Rows> {
  const [y, yVal] = targets;
  const classes = g.classes.length;
  return {
    // A metric of boxes (fitness, above), not the loss: the focal loss on validation images rises
    // as scores sharpen while the boxes' ranking still improves.
    monitor: { metric: 'valFitness', mode: 'max' },
    headBoundary: g.cut,
    keepsInitial: false,
    async inputs(stage) {
      const { rows, ...rest } = await stageRows(g, stage.boundary, [placedImages(data.train), placedImages(data.val)], {
        stage: stage.name,
        ...o,
        batchSize: 32,
      });
      return { train: rows[0], val: rows[1], ...rest, dispose: () => rows.forEach((r) => r.dispose()) } satisfies StageInputs<Rows>;
    },
    async fit(above, { train: x, val: xVal }, stage) {
      const { trainer, used: trainEngine } = await onnxTrainerFor(above, o.trainEngine ?? DEFAULT_TRAIN_ENGINE, {
        optimizer: { kind: 'adam' },
        loss: { kind: 'detection', classes, ...DETECTION_LOSS_WEIGHTS },
        seed: o.seed === undefined ? undefined : o.seed + stage.index,
      });
      const optimizer = trainer ? undefined : tf.train.adam(stage.learningRate);
      try {
        const valTargets = trainer && targetRows(yVal);
        const forward: ValidationForward = trainer
          ? async (idx) => {
              const { data: xs, dims } = xVal.values(idx);
              const { loss, output } = await trainer.forward(xs, dims, valTargets!(idx));
              return { loss, grid: output };
            }
          : tfjsForward(above, xVal, yVal, classes);
        const [, height, width] = yVal.shape;
        const validate = () => validateDetector(forward, xVal.n, data.val, { height, width, stride: g.stride });
        const stopping = new EarlyStopping({
          monitor: 'valFitness',
          mode: 'max',
          // Until the size head has learnt boxes near the objects' sizes AP50 is exactly 0 (every
          // box under IoU 0.5): the falling loss then tells progress from a stall.
          tieBreak: 'valLoss',
          patience: o.patience,
          initial: stage.keepInitial ? await validate() : undefined,
        });
        const rand = mulberry32((o.seed ?? 0) + stage.index);
        const started = performance.now();
        const history = await withSeed(o.seed === undefined ? undefined : o.seed + stage.index, async () => {
          try {
            return await fitLoop(
              above,
              {
                stage: stage.name,
                epochs: o.epochs,
                batches: () => shuffledBatches(x.n, o.batchSize, rand),
                ...(trainer ? onnxSteps(trainer, x, y, stage.learningRate) : { step: tfjsStep(above, optimizer!, x, y, classes) }),
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
        return {
          epochsRun: history.epochs.length,
          bestEpoch: stopping.bestEpoch,
          monitor: 'valFitness',
          best: stopping.best,
          bestValLoss: stopping.bestMetrics.valLoss,
          metrics: stopping.bestMetrics,
          seconds: (performance.now() - started) / 1000,
          trainEngine,
        };
      } finally {
        optimizer?.dispose();
        await trainer?.release();
      }
    },
  };
}

/** A step in TF.js: Adam minimising CenterNet's loss on the batch. */
function tfjsStep(above: tf.LayersModel, optimizer: tf.Optimizer, x: Rows, y: tf.Tensor4D, classes: number): TrainingLoop['step'] {
  const variables = above.trainableWeights.map((w) => w.read() as tf.Variable);
  return (batch) => {
    const [xb, idx] = [x.take(batch), tf.tensor1d(batch, 'int32')];
    const cost = optimizer.minimize(
      () => detectionLoss(above.apply(xb, { training: true }) as tf.Tensor4D, tf.gather(y, idx), classes),
      true,
      variables,
    )!;
    const loss = cost.dataSync()[0];
    tf.dispose([cost, idx, xb]);
    return { size: batch.length, loss };
  };
}

/** The same steps on ONNX Runtime: each batch's rows and targets as plain arrays, the weights written back to TF.js after every epoch. */
function onnxSteps(trainer: OnnxTrainer, x: Rows, y: tf.Tensor4D, learningRate: number): Pick<TrainingLoop, 'step' | 'afterEpoch'> {
  const targets = targetRows(y);
  return {
    async step(batch) {
      const { data: xs, dims } = x.values(batch);
      const { loss } = await trainer.train(xs, dims, targets(batch), learningRate);
      return { size: batch.length, loss };
    },
    afterEpoch: () => trainer.writeBack(),
  };
}

/** Train a grafted detector on placed images: the head, then `unfreeze` blocks (or everything, from scratch). */
export async function trainDetectorStages(
  g: GraftedDetector,
  data: { train: PlacedSet; val: PlacedSet },
  options: DetectionTrainOptions = {},
): Promise<TrainResult> {
  const o: Options = withDefaults(DETECTION_DEFAULTS, options);
  if (data.train.placed.length === 0) throw usageError('no training image could be read');
  if (data.val.placed.length === 0) throw usageError('no validation image could be read: detection needs at least one to stop training');
  const targets = [targetsOf(data.train, g), targetsOf(data.val, g)];
  try {
    return await trainStages(g, detectionTask(g, data, o, targets), o);
  } finally {
    tf.dispose(targets);
  }
}
