// The fit loop of a multi-task model: graft's own, because TF.js's fit has no per-sample mask per
// output and no place for learned loss weights. Adam over the model's trainable weights (and the
// tasks' log σ² under uncertainty weighting), shuffled batches, early stopping on the validation
// loss with the best weights restored, as fitStage does for one task.
import * as tf from '@tensorflow/tfjs';
import type { TaskKind } from '../data/multitask/types.js';
import { mulberry32, shuffle } from '../data/random.js';
import { usageError } from '../errors.js';
import { jointLoss, maskedTaskLoss, taskWeights, uncertaintyWeights, type TaskWeighting } from './multitask-loss.js';
import { TRAIN_DEFAULTS } from './train.js';

/** Inputs and, per task in the model's output order, its targets (see maskedTaskLoss for their shapes). */
export interface MultiTaskData {
  x: tf.Tensor;
  targets: tf.Tensor[];
}

export interface MultiTaskFitOptions {
  kinds: TaskKind[];
  /** Fixed weights per task (default all 1), or 'uncertainty' to learn them. */
  weights?: number[] | 'uncertainty';
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  seed?: number;
  onEpoch?: (e: { epoch: number; epochs: number; loss: number; valLoss: number; taskValLosses: number[]; weights: number[] }) => void;
}

export interface MultiTaskFitResult {
  epochsRun: number;
  bestEpoch: number;
  /** Sum of the tasks' unweighted validation losses at the best epoch (what early stopping watches). */
  bestValLoss: number;
  /** Each task's validation loss at the best epoch. */
  taskValLosses: number[];
  /** The weights the tasks' losses carried at the end. */
  weights: number[];
  seconds: number;
}

/** Each task's masked loss on `data`, in batches (inference). */
export function taskLosses(model: tf.LayersModel, data: MultiTaskData, kinds: TaskKind[], batchSize = 256): number[] {
  const n = data.x.shape[0];
  const sums = kinds.map(() => ({ loss: 0, labelled: 0 }));
  for (let s = 0; s < n; s += batchSize) {
    const size = Math.min(batchSize, n - s);
    tf.tidy(() => {
      const outputs = [model.predict(data.x.slice(s, size), { batchSize })].flat() as tf.Tensor[];
      kinds.forEach((kind, t) => {
        const { loss, labelled } = maskedTaskLoss(kind, data.targets[t].slice(s, size), outputs[t]);
        const count = labelled.dataSync()[0];
        sums[t].loss += loss.dataSync()[0] * count;
        sums[t].labelled += count;
      });
    });
  }
  return sums.map((x) => x.loss / Math.max(1, x.labelled));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Train `model` (outputs in the order of `o.kinds`) on `train`, stopping on `val`. Validation
 * loss is the unweighted sum of the tasks' losses, so epochs compare under learned weights too.
 */
export async function fitMultiTask(model: tf.LayersModel, train: MultiTaskData, val: MultiTaskData, o: MultiTaskFitOptions): Promise<MultiTaskFitResult> {
  const p = { ...TRAIN_DEFAULTS, ...o };
  const tasks = o.kinds.length;
  if (model.outputs.length !== tasks || train.targets.length !== tasks || val.targets.length !== tasks) throw usageError(`${model.outputs.length} outputs, ${train.targets.length} training and ${val.targets.length} validation targets for ${tasks} tasks`);
  const weighting: TaskWeighting = o.weights === 'uncertainty' ? uncertaintyWeights(tasks) : { kind: 'fixed', weights: o.weights ?? new Array<number>(tasks).fill(1) };
  const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...(weighting.kind === 'uncertainty' ? [weighting.logVariance] : [])];
  const optimizer = tf.train.adam(p.learningRate);
  const rand = mulberry32(p.seed ?? 0);
  const started = performance.now();
  const n = train.x.shape[0];
  const snapshot = () => model.getWeights().map((w) => w.clone());
  let best = { valLoss: Infinity, epoch: 0, taskValLosses: [] as number[], weights: snapshot() };
  let epochsRun = 0;
  try {
    for (let epoch = 1; epoch <= p.epochs; epoch++) {
      epochsRun = epoch;
      const order = shuffle(Array.from({ length: n }, (_, i) => i), rand);
      let lossSum = 0;
      for (let s = 0; s < n; s += p.batchSize) {
        const idx = tf.tensor1d(order.slice(s, s + p.batchSize), 'int32');
        const cost = optimizer.minimize(
          () => {
            const x = tf.gather(train.x, idx);
            const outputs = [model.apply(x, { training: true })].flat() as tf.Tensor[];
            const losses = o.kinds.map((kind, t) => maskedTaskLoss(kind, tf.gather(train.targets[t], idx), outputs[t]).loss);
            return jointLoss(losses, o.kinds, weighting);
          },
          true,
          variables,
        );
        lossSum += cost!.dataSync()[0] * Math.min(p.batchSize, n - s);
        tf.dispose([cost!, idx]);
        await tf.nextFrame();
      }
      const taskValLosses = taskLosses(model, val, o.kinds);
      const valLoss = sum(taskValLosses);
      o.onEpoch?.({ epoch, epochs: p.epochs, loss: lossSum / n, valLoss, taskValLosses, weights: taskWeights(o.kinds, weighting) });
      if (valLoss < best.valLoss) {
        tf.dispose(best.weights);
        best = { valLoss, epoch, taskValLosses, weights: snapshot() };
      } else if (epoch - best.epoch >= p.patience) break;
    }
    model.setWeights(best.weights);
    return { epochsRun, bestEpoch: best.epoch, bestValLoss: best.valLoss, taskValLosses: best.taskValLosses, weights: taskWeights(o.kinds, weighting), seconds: (performance.now() - started) / 1000 };
  } finally {
    tf.dispose(best.weights);
    optimizer.dispose();
    if (weighting.kind === 'uncertainty') weighting.logVariance.dispose();
  }
}
