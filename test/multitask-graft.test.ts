// A multi-task graft on a small base and digits-in-scenes images: trunk frozen, heads trained on
// its features with partial labels, evaluated per task, saved as one LayersModel with an output per
// task that plain @tensorflow/tfjs loads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { DIGITS_IN_SCENES_SCENES, loadDigitsInScenes } from '../src/data/multitask/digits-in-scenes.js';
import { splitMultiTask } from '../src/data/multitask/split.js';
import { MultiTaskModel } from '../src/kinds/multi-task.js';
import { graftTasks } from '../src/graft/multitask.js';
import type { TaskSpec } from '../src/data/multitask/types.js';
import { evaluateTasks } from '../src/evaluate/tasks.js';
import { trainTasks } from '../src/train/multitask.js';
import { withSeed } from '../src/math/seed.js';
import { root, tempDir, tinyBase } from './helpers.js';

before(() => useBackend('wasm'));

const TASKS: TaskSpec[] = [
  { name: 'digit', kind: 'classification', classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] },
  { name: 'scene', kind: 'classification', classes: [...DIGITS_IN_SCENES_SCENES] },
];

describe('multi-task graft', () => {
  it('trains both heads on a frozen trunk, leaves the trunk as it was, evaluates each task on its labelled samples, and exports N outputs', async () => {
    const base = tinyBase();
    const set = await loadDigitsInScenes({ count: 280, size: 16, seed: 3 });
    const splits = splitMultiTask(set, { seed: 1 });
    const g = await withSeed(7, () => graftTasks(base, { tasks: TASKS, cut: 'top_conv', head: { kind: 'linear', pool: 'flatten' } }));
    const untrained = await evaluateTasks(g, splits.test);
    const trunkBefore = g.model.getLayer('stem_conv').getWeights()[0].dataSync().slice();
    const r = await trainTasks(g, splits, { epochs: 30, learningRate: 0.01, patience: 30, seed: 1, unfreeze: 0 });
    assert.deepEqual(
      r.stages.map((s) => s.stage),
      ['head'],
    );
    assert.deepEqual(
      Object.keys(r.stages[0].metrics).filter((k) => k.startsWith('valLoss:')),
      ['valLoss:0', 'valLoss:1'],
      "each task's validation loss at the best epoch",
    );
    assert.deepEqual(Array.from(g.model.getLayer('stem_conv').getWeights()[0].dataSync()), Array.from(trunkBefore), 'trunk frozen');
    const m = await evaluateTasks(g, splits.test);
    const labelled = (name: string) => (splits.test.tasks[name] as { labels: Int32Array }).labels.filter((l) => l >= 0).length;
    assert.equal(m.tasks[0].n, labelled('digit'));
    assert.equal(m.tasks[1].n, labelled('scene'));
    assert.ok(m.tasks[1].accuracy! > 1 / 7, `scene accuracy ${m.tasks[1].accuracy} (chance 1/7)`);
    assert.ok(m.meanAccuracy > untrained.meanAccuracy, `mean accuracy ${untrained.meanAccuracy} → ${m.meanAccuracy}`);

    const out = join(tempDir(), 'mt');
    await MultiTaskModel.fromGrafted(g).save(out, { metrics: { test: m } });
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.deepEqual(
      meta.tasks.map((t: TaskSpec) => t.name),
      ['digit', 'scene'],
    );
    const pixels = Array.from({ length: 16 }, (_, y) =>
      Array.from({ length: 16 }, (_, x) => Array.from({ length: 3 }, (_, c) => set.pixels[((0 * 16 + y) * 16 + x) * 3 + c])),
    );
    const pixelsPath = join(tempDir(), 'pixels.json');
    writeFileSync(pixelsPath, JSON.stringify(pixels));
    const plain = spawnSync(process.execPath, [join(root, 'test/plain-tfjs-predict.mjs'), out, pixelsPath], {
      encoding: 'utf8',
      cwd: root,
    });
    assert.equal(plain.status, 0, plain.stderr);
    const answer = JSON.parse(plain.stdout) as { outputs: Record<string, number[]> };
    const mine = (
      g.model.predict(
        tf
          .tensor4d(new Float32Array(set.pixels.subarray(0, 16 * 16 * 3)), [1, 16, 16, 3])
          .div(255)
          .sub(base.normalize.mean)
          .div(base.normalize.std),
      ) as tf.Tensor[]
    ).map((t) => Array.from(t.dataSync()));
    assert.deepEqual(Object.keys(answer.outputs), ['digit', 'scene']);
    answer.outputs.digit.forEach((v, i) => assert.ok(Math.abs(v - mine[0][i]) < 1e-5));
    answer.outputs.scene.forEach((v, i) => assert.ok(Math.abs(v - mine[1][i]) < 1e-5));
  });

  it('fine-tunes the shared top block after the heads (unfreeze 1): the trunk below stays, the stage never ends worse on validation than the heads alone', async () => {
    const base = tinyBase();
    const splits = splitMultiTask(await loadDigitsInScenes({ count: 200, size: 16, seed: 4 }), { seed: 2 });
    const g = await withSeed(5, () => graftTasks(base, { tasks: TASKS, cut: 'top_conv', head: { kind: 'linear', pool: 'flatten' } }));
    const weightsOf = (layer: string) => Array.from(g.model.getLayer(layer).getWeights()[0].dataSync());
    const [stem, top] = [weightsOf('stem_conv'), weightsOf('top_conv')];
    await assert.rejects(trainTasks(g, splits, { unfreeze: -1 }), /unfreeze must be a whole number >= 0 or 'auto'/);
    const r = await trainTasks(g, splits, { epochs: 8, learningRate: 0.01, patience: 8, seed: 1, unfreeze: 1 });
    assert.deepEqual(
      r.stages.map((s) => s.stage),
      ['head', 'fine-tune'],
    );
    const [heads, fine] = r.stages;
    assert.equal(heads.trainableFrom, 'top_conv');
    assert.notEqual(fine.trainableFrom, 'top_conv');
    assert.ok(fine.bestValLoss <= heads.bestValLoss + 1e-5, `fine-tune ${fine.bestValLoss} vs heads ${heads.bestValLoss}`);
    assert.deepEqual(weightsOf('stem_conv'), stem, 'below the boundary: frozen');
    if (fine.bestEpoch > 0) {
      assert.equal(g.frozenTo, fine.trainableFrom);
      assert.equal(r.trainableFrom, fine.trainableFrom);
      assert.equal(r.unfreeze, 1);
      assert.notDeepEqual(weightsOf('top_conv'), top, 'top block fine-tuned');
    } else {
      assert.equal(g.frozenTo, 'top_conv');
      assert.equal(r.unfreeze, 0);
      assert.deepEqual(weightsOf('top_conv'), top, 'fine-tuning not kept: top block as it was');
    }
    // Evaluation runs the frozen part up to frozenTo and the fine-tuned block with the heads.
    const m = await evaluateTasks(g, splits.test);
    const whole = await evaluateTasks({ ...g, frozenTo: g.model.layers[0].name }, splits.test);
    assert.deepEqual(
      m.tasks.map((t) => t.accuracy),
      whole.tasks.map((t) => t.accuracy),
    );
    g.model.dispose();
  });
});
