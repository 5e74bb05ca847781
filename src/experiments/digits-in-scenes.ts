// One trunk for two tasks against one trunk per task: digits-in-scenes images (an MNIST digit over
// a crop of one of seven photographs) labelled with their digit and their scene, some with only
// one of the two. The multi-task model is MobileNetV2 cut at its usual layer with a head per task;
// the single-task models are the same trunk with one head each, on the same splits, epochs and
// seeds. Reported: accuracy per task, parameters, and inference time per image (one trunk pass
// against one per task).
import * as tf from '@tensorflow/tfjs';
import { loadBase } from '../bases/index.js';
import type { Base } from '../bases/types.js';
import { DIGITS_IN_SCENES_SCENES, loadDigitsInScenes } from '../data/multitask/digits-in-scenes.js';
import { splitMultiTask, subsetMultiTask } from '../data/multitask/split.js';
import { pct, table } from '../evaluate/report.js';
import { graftTasks, type TaskSpec } from '../graft/multitask.js';
import { FeatureCache } from '../train/feature-cache.js';
import { evaluateTasks, imagesOf, trainTasks } from '../train/multitask.js';
import { batchToTensor } from '../train/tensors.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const TASKS: TaskSpec[] = [
  { name: 'digit', kind: 'classification', classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] },
  { name: 'scene', kind: 'classification', classes: [...DIGITS_IN_SCENES_SCENES] },
];
const IMAGES = 3000;
const BUDGET = { epochs: 30, patience: 5, learningRate: 1e-3, batchSize: 64 };
/** Images timed for inference per setup (whole models, TF.js, one batch). */
const TIMED = 32;
/** The bar: no task more than this many points below its single-task model. */
const BAR_POINTS = 1.5;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Run {
  accuracy: Record<string, number>;
  params: number;
  msPerImage: number;
}

/** Milliseconds per image of a whole model (trunk and heads) on `x`, best of three runs. */
async function msPerImage(model: tf.LayersModel, x: tf.Tensor): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const out = [model.predict(x)].flat() as tf.Tensor[];
    await Promise.all(out.map((t) => t.data()));
    tf.dispose(out);
    times.push(performance.now() - t0);
  }
  return Math.min(...times) / x.shape[0];
}

async function train(base: Base, tasks: TaskSpec[], splits: Awaited<ReturnType<typeof prepare>>, seed: number, cache: FeatureCache, timed: tf.Tensor, opts: ExperimentOptions): Promise<Run> {
  const g = await graftTasks(base, { tasks, head: { kind: 'linear' } });
  try {
    await trainTasks(g, splits, { ...BUDGET, seed, cache, onEpoch: opts.onEpoch && ((e) => opts.onEpoch!({ stage: tasks.map((t) => t.name).join('+'), epoch: e.epoch, epochs: e.epochs, loss: e.loss, accuracy: NaN, valLoss: e.valLoss, valAccuracy: NaN, seconds: 0 })) });
    const m = await evaluateTasks(g, splits.test, { cache });
    return { accuracy: Object.fromEntries(m.tasks.map((t) => [t.task, t.accuracy!])), params: g.model.countParams(), msPerImage: await msPerImage(g.model, timed) };
  } finally {
    g.model.dispose();
  }
}

async function prepare(base: Base, seed: number) {
  const set = await loadDigitsInScenes({ seed, count: IMAGES, size: base.input.height });
  return splitMultiTask(set, { seed });
}

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const seeds = opts.seeds ?? [1, 2, 3];
  const base = await loadBase('mobilenet_v2');
  const cache = new FeatureCache();
  const runs: { multi: Run[]; single: Run[] } = { multi: [], single: [] };
  for (const seed of seeds) {
    opts.onStep?.(`building ${IMAGES} images, seed ${seed}`);
    const splits = await prepare(base, seed);
    const timedSet = subsetMultiTask(splits.test, Array.from({ length: Math.min(TIMED, splits.test.ids.length) }, (_, i) => i));
    const timed = await batchToTensor(imagesOf(timedSet), base.normalize, timedSet.ids.map((_, i) => i));
    try {
      opts.onStep?.(`multi-task, seed ${seed}`);
      runs.multi.push(await train(base, TASKS, splits, seed, cache, timed, opts));
      const singles: Run[] = [];
      for (const task of TASKS) {
        opts.onStep?.(`single-task ${task.name}, seed ${seed}`);
        singles.push(await train(base, [task], splits, seed, cache, timed, opts));
      }
      runs.single.push({ accuracy: Object.assign({}, ...singles.map((s) => s.accuracy)), params: singles.reduce((a, s) => a + s.params, 0), msPerImage: singles.reduce((a, s) => a + s.msPerImage, 0) });
    } finally {
      timed.dispose();
    }
  }
  const summary = (rs: Run[], setup: string) => ({
    setup,
    tasks: Object.fromEntries(TASKS.map((t) => [t.name, { accuracy: mean(rs.map((r) => r.accuracy[t.name])) }])),
    params: rs[0].params,
    msPerImage: mean(rs.map((r) => r.msPerImage)),
  });
  const rows = [summary(runs.multi, 'multi-task'), summary(runs.single, 'single-task')];
  const [multi, single] = rows;
  const worst = Math.max(...TASKS.map((t) => 100 * (single.tasks[t.name].accuracy - multi.tasks[t.name].accuracy)));
  const met = worst <= BAR_POINTS && multi.params < single.params && multi.msPerImage < single.msPerImage;
  const markdown = [
    `digits-in-scenes: ${IMAGES} images (${base.input.height}x${base.input.width}, 20% with one of their two labels), MobileNetV2 cut at ${base.suggestedCut} (frozen), a linear head per task; multi-task = one trunk and both heads trained jointly, single-task = one trunk and head per task (params and ms summed), same splits and budget (up to ${BUDGET.epochs} epochs, Adam ${BUDGET.learningRate}); test accuracy on the samples labelled for the task, mean over seeds ${seeds.join(', ')}; ms per image = whole models on TF.js, batch of ${TIMED}.`,
    '',
    table(
      ['setup', ...TASKS.map((t) => `${t.name} accuracy`), 'parameters', 'ms per image'],
      rows.map((r) => [r.setup, ...TASKS.map((t) => pct(r.tasks[t.name].accuracy)), r.params.toLocaleString('en-US'), r.msPerImage.toFixed(1)]),
    ),
    '',
    `Bar (no task more than ${BAR_POINTS} points below its single-task model, fewer parameters, less inference time): ${met ? 'met' : 'not met'} (largest shortfall ${worst.toFixed(2)} points).`,
  ].join('\n');
  return { json: { experiment: 'digits-in-scenes', seeds, rows, bar: { worstShortfallPoints: worst, met } }, markdown };
}

export const digitsInScenes: Experiment = {
  name: 'digits-in-scenes',
  description: 'one MobileNetV2 trunk with a digit head and a scene head vs one trunk per task: accuracy, parameters, ms per image',
  run,
};
