// A multi-task model on features a test makes: heads named after their tasks, trained jointly with
// partial labels, under fixed and learned (uncertainty) weights.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { mulberry32 } from '../src/math/random.js';
import { multiTaskModel } from '../src/graft/multitask.js';
import type { TaskSpec } from '../src/data/multitask/types.js';
import { fitMultiTask, taskLosses, type MultiTaskData } from '../src/train/multitask.js';

before(() => useBackend('wasm'));

const TASKS: TaskSpec[] = [
  { name: 'side', kind: 'classification', classes: ['left', 'right'] },
  { name: 'tags', kind: 'multi-label', classes: ['big', 'odd'] },
  { name: 'size', kind: 'regression' },
];

/** x in [-1, 1]^4; side = x0 > 0; tags = [x1 > 0, x2 > 0]; size = 2·x3. Every third sample lacks its side label, every fifth its tags. */
function data(n: number, seed: number): MultiTaskData {
  const rand = mulberry32(seed);
  const x = Array.from({ length: n }, () => Array.from({ length: 4 }, () => 2 * rand() - 1));
  return {
    x: tf.tensor2d(x),
    targets: [
      tf.tensor1d(
        x.map((r, i) => (i % 3 === 0 ? -1 : r[0] > 0 ? 1 : 0)),
        'int32',
      ),
      tf.tensor2d(x.map((r, i) => (i % 5 === 0 ? [NaN, NaN] : [r[1] > 0 ? 1 : 0, r[2] > 0 ? 1 : 0]))),
      tf.tensor2d(x.map((r) => [2 * r[3]])),
    ],
  };
}

function build(): tf.LayersModel {
  const input = tf.input({ shape: [4] });
  const shared = tf.layers.dense({ units: 16, activation: 'relu', name: 'trunk_dense' }).apply(input) as tf.SymbolicTensor;
  return multiTaskModel(input, shared, TASKS, { kind: 'linear' });
}

describe('multi-task model', () => {
  it("has one output per task, named after it, with the task's activation and width", () => {
    const model = build();
    assert.deepEqual(model.outputNames, ['side', 'tags', 'size']);
    const out = model.predict(tf.zeros([2, 4])) as tf.Tensor[];
    assert.deepEqual(
      out.map((t) => t.shape),
      [
        [2, 2],
        [2, 2],
        [2, 1],
      ],
    );
    const side = out[0].sum(1).dataSync();
    side.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5, 'softmax rows sum to 1'));
    tf.dispose(out);
    model.dispose();
  });

  it('task names are checked', () => {
    const input = tf.input({ shape: [4] });
    assert.throws(() => multiTaskModel(input, input, [TASKS[0], TASKS[0]], { kind: 'linear' }), /given twice/);
    assert.throws(() => multiTaskModel(input, input, [{ ...TASKS[0], name: '2x' }], { kind: 'linear' }), /must start with a letter/);
  });

  for (const weights of [undefined, 'uncertainty'] as const) {
    it(`learns every task from partial labels (${weights ?? 'fixed'} weights)`, async () => {
      const model = build();
      const [train, val] = [data(600, 1), data(200, 2)];
      const before = taskLosses(
        model,
        val,
        TASKS.map((t) => t.kind),
      );
      const r = await fitMultiTask(model, train, val, {
        kinds: TASKS.map((t) => t.kind),
        weights,
        epochs: 40,
        learningRate: 0.01,
        patience: 40,
        seed: 1,
      });
      assert.equal(r.epochsRun, 40);
      r.taskValLosses.forEach((l, t) => assert.ok(l < before[t] / 2, `task ${TASKS[t].name}: ${before[t]} → ${l}`));
      const [side] = model.predict(val.x) as tf.Tensor[];
      const predicted = side.argMax(1).dataSync();
      const truth = val.targets[0].dataSync();
      const labelled = Array.from(truth.keys()).filter((i) => truth[i] >= 0);
      const accuracy = labelled.filter((i) => predicted[i] === truth[i]).length / labelled.length;
      assert.ok(accuracy > 0.9, `side accuracy ${accuracy}`);
      if (weights === 'uncertainty')
        assert.ok(
          r.weights.some((w) => Math.abs(w - 1) > 0.05),
          `learned weights ${r.weights}`,
        );
      else assert.deepEqual(r.weights, [1, 1, 1]);
      tf.dispose([...train.targets, train.x, ...val.targets, val.x]);
      model.dispose();
    });
  }
});
