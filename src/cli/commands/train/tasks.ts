// `graft train --task NAME:KIND[:COLUMN] …`: one shared trunk, a head per task (trainMultiTask).
import type { Command } from 'commander';
import { loadLayersBase } from '../../../bases/index.js';
import { usageError } from '../../../core/errors.js';
import { parseTaskArg } from '../../../data/multitask/load.js';
import { parseHead } from '../../../graft/head.js';
import { taskSummary, taskTable, trainMultiTask } from '../../../kinds/multi-task.js';
import { baseOptions, log, logTrainEngines, pct, prepare, printJson, Progress, refuseFlags, table, Warnings } from '../../shared.js';
import { imageTraining, type TrainFlags } from './flags.js';

/** `graft train` flags a multi-task model has no use for. */
const SINGLE_TASK_ONLY = ['perClass', 'classes', 'scratch', 'textColumn', 'labelColumn', 'stream'] as const;

/** `uncertainty`, or one fixed weight per task. */
export function parseTaskWeights(spec: string | undefined, tasks: number): number[] | 'uncertainty' | undefined {
  if (spec === undefined) return undefined;
  if (spec === 'uncertainty') return 'uncertainty';
  const parts = spec.split(',').map((w) => w.trim());
  const weights = parts.map(Number);
  if (
    weights.length !== tasks ||
    parts.some((w) => w === '') ||
    weights.some((w) => !Number.isFinite(w) || w < 0) ||
    weights.every((w) => w === 0)
  ) {
    throw usageError(
      `--task-weights must be 'uncertainty' or ${tasks} non-negative numbers separated by commas (one per --task, not all 0), got ${JSON.stringify(spec)}`,
    );
  }
  return weights;
}

export async function trainTasks(flags: TrainFlags, cmd: Command): Promise<void> {
  refuseFlags(cmd, SINGLE_TASK_ONLY, 'to single-task training, not with --task');
  if (flags.unfreeze === 'auto') throw usageError('--unfreeze auto is for single-task training; with --task give a number of blocks');
  const tasks = flags.task.map(parseTaskArg);
  const weights = parseTaskWeights(flags.taskWeights, tasks.length);
  await prepare(flags);
  const base = await loadLayersBase(flags.base, baseOptions(flags));
  const warnings = new Warnings();
  const progress = new Progress({ tasks: tasks.map((t) => t.name) });
  const result = await trainMultiTask({
    base,
    data: flags.data,
    tasks,
    cut: flags.cut,
    head: flags.head ? parseHead(flags.head, base.head) : undefined,
    weights,
    ...imageTraining(flags),
    unfreeze: flags.unfreeze,
    callbacks: [progress, warnings],
  });
  progress.stop();
  warnings.report();
  const { model, training, metrics, counts } = result;
  const g = model.grafted!;
  try {
    await model.save(flags.out, { force: flags.force });
    const trunk = training.unfreeze ? `, top ${training.unfreeze} block${training.unfreeze > 1 ? 's' : ''} fine-tuned` : ', trunk frozen';
    const described = g.tasks.map((t) => `${t.name} (${t.kind}${t.classes ? `, ${t.classes.length} classes` : ''})`).join(', ');
    log(
      `base ${base.name}, cut at ${g.cut}${trunk}; ${counts.train} train / ${counts.val} val / ${counts.test} test images; tasks ${described}`,
    );
    log(
      table(
        ['stage', 'trainable from', 'trains on', 'epochs', 'best epoch', 'best val loss', 'task weights', 'feature s', 'train s'],
        training.stages.map((s) => [
          s.stage,
          s.boundary,
          s.trainEngine.engine,
          s.epochsRun,
          s.bestEpoch,
          s.bestValLoss.toFixed(4),
          s.weights.map((w) => w.toFixed(2)).join(', '),
          s.featureSeconds.toFixed(1),
          s.seconds.toFixed(1),
        ]),
      ),
    );
    logTrainEngines(training.stages.map((s) => ({ name: s.stage, trainEngine: s.trainEngine })));
    log(
      `test (${counts.test} images)${Number.isNaN(metrics.test.meanAccuracy) ? '' : `, mean accuracy ${pct(metrics.test.meanAccuracy)}`}:`,
    );
    log(taskTable(metrics.test));
    log(`saved to ${flags.out}`);
    if (flags.json)
      printJson({
        out: flags.out,
        tasks: g.tasks,
        cut: g.cut,
        frozenTo: g.frozenTo,
        unfreeze: training.unfreeze,
        metrics: { val: taskSummary(metrics.val), test: taskSummary(metrics.test) },
        seconds: training.seconds,
      });
  } finally {
    await model.dispose();
  }
}
