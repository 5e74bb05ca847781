// graft's one fit loop and its callbacks: hooks in Keras's order, stopping from a callback,
// early stopping with the best weights restored, and a classification stage that computes what
// TF.js's model.fit computes, weight for weight.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import type { Callback } from '../src/core/callbacks.js';
import { mulberry32 } from '../src/math/random.js';
import { withSeed } from '../src/math/seed.js';
import { evaluateClassifier, fitStage } from '../src/train/fit.js';
import { EarlyStopping, fitLoop, inBatches } from '../src/train/loop.js';

before(() => useBackend('wasm'));

/** A one-weight model: its kernel is what the scripted steps below write. */
function scalarModel(): tf.LayersModel {
  const input = tf.input({ shape: [1] });
  const output = tf.layers.dense({ units: 1, useBias: false, kernelInitializer: 'zeros' }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}
const kernel = (m: tf.LayersModel) => m.getWeights()[0].dataSync()[0];
const setKernel = (m: tf.LayersModel, v: number) => m.weights[0].write(tf.tensor2d([[v]]));

describe('fitLoop', () => {
  it('calls every hook in order, averages batch losses by size, and stops when a callback says so', async () => {
    const model = scalarModel();
    const calls: string[] = [];
    const recorder: Callback = {
      onTrainBegin: (_, stage) => void calls.push(`train begin ${stage}`),
      onEpochBegin: (e) => void calls.push(`epoch ${e} begin`),
      onBatchBegin: (b) => void calls.push(`batch ${b} begin`),
      onBatchEnd: (b, logs) => void calls.push(`batch ${b} end ${logs.loss}`),
      onEpochEnd: (e) => {
        calls.push(`epoch ${e.epoch} end ${e.loss} ${e.metrics.valLoss}`);
        if (e.epoch === 2) model.stopTraining = true;
      },
      onTrainEnd: () => void calls.push('train end'),
    };
    const history = await fitLoop(
      model,
      {
        stage: 's',
        epochs: 5,
        // 5 samples in batches of 3: sizes 3 and 2.
        batches: () => inBatches([0, 1, 2, 3, 4], 3),
        step: (batch, { epoch }) => ({ size: batch.length, loss: batch.length === 3 ? epoch + 1 : 10 * (epoch + 1) }),
        validate: () => ({ valLoss: 0.5 }),
      },
      [recorder],
    );
    assert.equal(history.epochs.length, 2, 'stopped after epoch 2');
    assert.deepEqual(calls, [
      'train begin s',
      'epoch 1 begin',
      'batch 0 begin',
      'batch 0 end 1',
      'batch 1 begin',
      'batch 1 end 10',
      // (3·1 + 2·10) / 5
      'epoch 1 end 4.6 0.5',
      'epoch 2 begin',
      'batch 0 begin',
      'batch 0 end 2',
      'batch 1 begin',
      'batch 1 end 20',
      'epoch 2 end 9.2 0.5',
      'train end',
    ]);
  });

  it('gives schedules the fraction of steps done', async () => {
    const seen: number[] = [];
    await fitLoop(scalarModel(), {
      stage: 's',
      epochs: 2,
      batches: () => [[0], [1]],
      step: (batch, { progress }) => (seen.push(progress), { size: 1, loss: 0 }),
    });
    assert.deepEqual(seen, [0, 0.25, 0.5, 0.75]);
  });
});

describe('EarlyStopping', () => {
  /** A run whose epoch e sets the weight to e and scores `losses[e - 1]` (and `aps[e - 1]` as valAP50, when given). */
  async function scripted(losses: number[], o: ConstructorParameters<typeof EarlyStopping>[0], aps?: number[]) {
    const model = scalarModel();
    const stopping = new EarlyStopping(o);
    let epoch = 0;
    const history = await fitLoop(
      model,
      {
        stage: 's',
        epochs: losses.length,
        batches: () => [[0]],
        step: () => (setKernel(model, ++epoch), { size: 1, loss: 0 }),
        validate: () => ({ valLoss: losses[epoch - 1], ...(aps ? { valAP50: aps[epoch - 1] } : {}) }),
      },
      [stopping],
    );
    return { model, stopping, epochsRun: history.epochs.length };
  }

  it('stops after `patience` epochs without a strictly better score and restores the best weights', async () => {
    const { model, stopping, epochsRun } = await scripted([0.9, 0.5, 0.5, 0.7, 0.6, 0.1], { monitor: 'valLoss', patience: 3 });
    assert.equal(epochsRun, 5, 'epochs 3-5 do not beat epoch 2');
    assert.equal(stopping.bestEpoch, 2);
    assert.equal(stopping.best, 0.5);
    assert.equal(kernel(model), 2, "epoch 2's weights");
  });

  it('counts the starting weights as epoch 0 when given their score, and keeps them if nothing beats it', async () => {
    const { model, stopping } = await scripted([0.9, 0.8], { monitor: 'valLoss', patience: 5, initial: { valLoss: 0.3, other: 7 } });
    assert.equal(stopping.bestEpoch, 0);
    assert.deepEqual(stopping.bestMetrics, { valLoss: 0.3, other: 7 });
    assert.equal(kernel(model), 0, 'the starting weights');
  });

  it('breaks an exact tie of the monitor on `tieBreak` (lower better), so a plateau at 0 with a falling loss is not a stall', async () => {
    const aps = [0, 0, 0, 0, 0.3, 0.3, 0.2];
    const losses = [6, 5, 4, 3, 2, 2.5, 1];
    const plain = await scripted(losses, { monitor: 'valAP50', mode: 'max', patience: 2 }, aps);
    assert.deepEqual([plain.epochsRun, plain.stopping.bestEpoch], [3, 1], 'without it, epochs 2 and 3 do not beat epoch 1');
    const broken = await scripted(losses, { monitor: 'valAP50', mode: 'max', patience: 2, tieBreak: 'valLoss' }, aps);
    assert.deepEqual([broken.epochsRun, broken.stopping.bestEpoch, kernel(broken.model)], [7, 5, 5]);
  });

  it("maximises in mode 'max' (an accuracy), never stopping without patience", async () => {
    const { model, stopping, epochsRun } = await scripted([0.2, 0.6, 0.4, 0.5], { monitor: 'valLoss', mode: 'max' });
    assert.deepEqual([epochsRun, stopping.bestEpoch, kernel(model)], [4, 2, 2]);
  });
});

describe('fitStage', () => {
  /** A small classifier with dropout (whose masks draw on Math.random, as the shuffle does). */
  function classifier(): tf.LayersModel {
    const input = tf.input({ shape: [6] });
    let h = tf.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: 0.3 }).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  }

  it("gives the weights and validation loss TF.js's model.fit gives, seeded alike", async () => {
    const rand = mulberry32(4);
    const x = tf.tensor2d(Array.from({ length: 37 }, () => Array.from({ length: 6 }, () => rand() * 2 - 1)));
    const y = tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: 37 }, (_, i) => i % 3),
          'int32',
        ),
        3,
      )
      .toFloat();
    const [xVal, yVal] = [x.slice(0, 11), y.slice(0, 11)];
    const mine = await withSeed(2, async () => classifier());
    const theirs = await withSeed(2, async () => classifier());
    theirs.setWeights(mine.getWeights());
    // One epoch (5 batches of 8, the last of 5): its weights are the stage's best, so nothing is restored.
    const logs: number[] = [];
    await withSeed(9, () =>
      fitStage(mine, x, y, [xVal, yVal], {
        stage: 'head',
        epochs: 1,
        learningRate: 0.01,
        batchSize: 8,
        patience: 1,
        trainEngine: 'tfjs', // the TF.js path is the one that must equal model.fit op for op
        callbacks: [{ onEpochEnd: (e) => void logs.push(e.metrics.valLoss) }],
      }),
    );
    theirs.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const fitted = await withSeed(9, () =>
      theirs.fit(x, y, { epochs: 1, batchSize: 8, shuffle: true, validationData: [xVal, yVal], verbose: 0 }),
    );
    mine.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), theirs.getWeights()[i].dataSync(), `weight ${i}`));
    assert.equal(logs[0], fitted.history.val_loss[0]);
    assert.equal(evaluateClassifier(mine, xVal, yVal, 8).loss, logs[0], 'validation is evaluate');
    tf.dispose([x, y, xVal, yVal]);
  });
});
