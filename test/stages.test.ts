// The one staged driver (train/driver.ts) on a scripted task: which stages it plans, with which
// boundary, learning rate, index and keepInitial; what it keeps of a fine-tuning stage; how
// `unfreeze: 'auto'` searches depths by the task's monitor in either direction and puts back the
// weights of the depth it keeps. No training runs: the task's fit moves one weight and reports
// the scripted score, so every decision is the driver's.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { graft, unfreezeBoundary, type Grafted } from '../src/graft/graft.js';
import { layersBase } from '../src/bases/image/tfjs.js';
import { trainDetector } from '../src/kinds/detection.js';
import { trainMultiTask } from '../src/kinds/multi-task.js';
import { trainStages, type StageFit, type StagePlan, type StageTask, type TrainResult } from '../src/train/driver.js';
import { makeTempDir, removeDir } from './fixtures.js';
import { colourTaskSet, COLOUR_TASKS, squareDetectionSplits, stridedModel, tinyBase } from './helpers.js';

before(() => useBackend('wasm'));

/** What the scripted fit answers for a stage: by its name, or by its blocks for fine-tuning. */
type Script = Record<string, { bestEpoch: number; best: number }>;

/** A task whose fit adds `index + 1` to the head's bias (so weights say which stage ran last) and reports the script. */
function scriptedTask(g: Grafted, script: Script, monitor: StageTask<null>['monitor']) {
  const plans: StagePlan[] = [];
  const task: StageTask<null> = {
    monitor,
    headBoundary: g.cut,
    keepsInitial: false,
    inputs: async () => ({ train: null, val: null, stats: { computed: 0, cached: 0 }, engine: 'tfjs', seconds: 0, dispose: () => {} }),
    async fit(above, _inputs, stage): Promise<StageFit> {
      plans.push(stage);
      const trainable = above.trainableWeights.map((w) => w.name);
      assert.ok(trainable.length > 0, `${stage.name}: something trains`);
      const bias = g.model.getLayer('head_output').getWeights();
      g.model.getLayer('head_output').setWeights([bias[0], tf.add(bias[1], stage.index + 1)]);
      const s = script[stage.blocks === undefined ? stage.name : String(stage.blocks)];
      return {
        epochsRun: 3,
        ...s,
        monitor: monitor.metric,
        bestValLoss: NaN,
        metrics: { [monitor.metric]: s.best },
        seconds: 0,
        trainEngine: { engine: 'tfjs', reason: 'asked for' },
      };
    },
  };
  return { task, plans };
}

const headBias = (g: Grafted) => Array.from(g.model.getLayer('head_output').getWeights()[1].dataSync());

describe('trainStages, the one staged driver', () => {
  it('plans the head then the fine-tuning stage, and keeps a fine-tuning stage only when it beat its start', async () => {
    const g = await graft(tinyBase(), { classes: ['a', 'b'], cut: 'top_conv', head: { kind: 'linear' } });
    try {
      const kept = scriptedTask(
        g,
        { head: { bestEpoch: 2, best: 0.5 }, 1: { bestEpoch: 3, best: 0.4 } },
        { metric: 'valLoss', mode: 'min' },
      );
      const events: string[] = [];
      const callbacks = [{ onStageBegin: (s: string) => void events.push(`+${s}`), onStageEnd: (s: string) => void events.push(`-${s}`) }];
      const r = await trainStages(g, kept.task, { unfreeze: 1, learningRate: 0.01, fineTuneFactor: 0.5, callbacks });
      const boundary = unfreezeBoundary(g, 1);
      assert.deepEqual(
        kept.plans.map((p) => [p.name, p.boundary, p.learningRate, p.index, p.keepInitial, p.blocks]),
        [
          ['head', 'top_conv', 0.01, 0, false, undefined],
          ['fine-tune', boundary, 0.005, 1, true, 1],
        ],
      );
      assert.deepEqual(events, ['+head', '-head', '+fine-tune', '-fine-tune']);
      assert.deepEqual(
        r.stages.map((s) => [s.stage, s.kept, s.trainableFrom, s.best]),
        [
          ['head', true, 'top_conv', 0.5],
          ['fine-tune', true, boundary, 0.4],
        ],
      );
      assert.equal(r.unfreeze, 1);
      assert.equal(r.trainableFrom, boundary);
      // Left as grafted: the trunk frozen, the head trainable.
      assert.deepEqual(
        g.model.layers.filter((l) => l.trainable && l.weights.length).map((l) => l.name),
        ['head_output'],
      );

      const notKept = scriptedTask(
        g,
        { head: { bestEpoch: 2, best: 0.5 }, 1: { bestEpoch: 0, best: 0.5 } },
        { metric: 'valLoss', mode: 'min' },
      );
      const r2 = await trainStages(g, notKept.task, { unfreeze: 1 });
      assert.deepEqual(
        r2.stages.map((s) => s.kept),
        [true, false],
      );
      assert.equal(r2.unfreeze, 0, 'a fine-tuning stage that changed nothing is not counted');
      assert.equal(r2.trainableFrom, 'top_conv');
      await assert.rejects(trainStages(g, notKept.task, { unfreeze: 1.5 }), /unfreeze must be a whole number >= 0 or 'auto', got 1.5/);
    } finally {
      g.model.dispose();
    }
  });

  it("unfreeze 'auto' compares depths by the task's monitor (here higher is better) and keeps the best depth's weights", async () => {
    const g = await graft(tinyBase(), { classes: ['a', 'b'], cut: 'top_conv', head: { kind: 'linear' } });
    try {
      const bias0 = headBias(g);
      // One block beats the head, two beat one block no more: auto keeps one block.
      const { task, plans } = scriptedTask(
        g,
        { head: { bestEpoch: 1, best: 0.5 }, 1: { bestEpoch: 2, best: 0.7 }, 2: { bestEpoch: 1, best: 0.6 } },
        { metric: 'valAP50', mode: 'max' },
      );
      const r = await trainStages(g, task, { unfreeze: 'auto' });
      assert.deepEqual(
        plans.map((p) => [p.name, p.blocks, p.index]),
        [
          ['head', undefined, 0],
          ['fine-tune', 1, 1],
          ['fine-tune', 2, 2],
        ],
      );
      assert.deepEqual(
        r.stages.map((s) => [s.blocks, s.kept, s.monitor]),
        [
          [undefined, true, 'valAP50'],
          [1, true, 'valAP50'],
          [2, false, 'valAP50'],
        ],
      );
      assert.equal(r.unfreeze, 1);
      assert.equal(r.trainableFrom, unfreezeBoundary(g, 1));
      // The head added 1 and the one-block stage 2; the two-block try (3) was put back.
      assert.deepEqual(
        headBias(g),
        bias0.map((b) => Math.fround(Math.fround(b + 1) + 2)),
      );

      // Lower is better under a loss: the same scores now keep the head alone.
      const asLoss = scriptedTask(
        g,
        { head: { bestEpoch: 1, best: 0.5 }, 1: { bestEpoch: 2, best: 0.7 } },
        { metric: 'valLoss', mode: 'min' },
      );
      const before = headBias(g);
      const r2 = await trainStages(g, asLoss.task, { unfreeze: 'auto' });
      assert.equal(r2.unfreeze, 0);
      assert.equal(asLoss.plans.length, 2, 'a depth worse than the head ends the search');
      assert.deepEqual(
        headBias(g),
        before.map((b) => Math.fround(b + 1)),
        "the head's weights, not the try's",
      );
    } finally {
      g.model.dispose();
    }
  });
});

describe("unfreeze 'auto' for every kind", () => {
  it('multi-task and detection search fine-tuning depths as classification does', async () => {
    const tasks = await trainMultiTask({
      base: tinyBase(),
      data: { splits: { train: colourTaskSet(6, 1), val: colourTaskSet(3, 2), test: colourTaskSet(2, 3) }, tasks: COLOUR_TASKS },
      cut: 'top_conv',
      epochs: 2,
      unfreeze: 'auto',
    });
    const dir = await makeTempDir('graft-stages-');
    try {
      assertSearched(tasks.training, 'valLoss');
      const meta = (tasks.model.grafted ?? { frozenTo: '' }).frozenTo;
      assert.equal(meta, tasks.training.trainableFrom, "the multi-task model's frozenTo is where the kept stage trained from");
      const detector = await trainDetector({
        base: layersBase('strided', stridedModel()),
        data: await squareDetectionSplits(dir),
        inputSize: { height: 64, width: 64 },
        augment: 0,
        epochs: 2,
        unfreeze: 'auto',
      });
      assertSearched(detector.training, 'valFitness');
      await detector.model.dispose();
    } finally {
      await tasks.model.dispose();
      await removeDir(dir);
    }
  });
});

/** A search ran: the head, then at least one fine-tuning depth from 1 up, at most one of them kept, and `unfreeze` is the kept one's. */
function assertSearched(r: TrainResult, monitor: string): void {
  assert.equal(r.stages[0].stage, 'head');
  const tries = r.stages.slice(1);
  assert.ok(tries.length >= 1, 'at least one depth tried');
  assert.deepEqual(
    tries.map((s) => s.blocks),
    tries.map((_, i) => i + 1),
  );
  assert.ok(
    r.stages.every((s) => s.monitor === monitor),
    `${monitor} watched: ${r.stages.map((s) => s.monitor)}`,
  );
  const kept = tries.filter((s) => s.kept);
  assert.ok(kept.length <= 1);
  assert.equal(r.unfreeze, kept[0]?.blocks ?? 0);
}
