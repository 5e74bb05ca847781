// `graft train --task NAME:KIND[:COLUMN] …`: one shared trunk, a head per task (the multi-task kind's trainer).
import { loadLayersBase } from '../../../bases/index.js';
import { usageError } from '../../../core/errors.js';
import { parseTaskArg } from '../../../data/multitask/load.js';
import { parseHead } from '../../../graft/head.js';
import { multiTaskKind, taskSummary, taskTable } from '../../../kinds/multi-task.js';
import { baseOptions, log, pct, prepare, printJson, Progress, Warnings } from '../../shared.js';
import { imageTraining, logStages, type TrainFlags } from './flags.js';

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

export async function trainTasks(flags: TrainFlags): Promise<void> {
  const tasks = flags.task.map(parseTaskArg);
  const weights = parseTaskWeights(flags.taskWeights, tasks.length);
  await prepare(flags);
  const base = await loadLayersBase(flags.base, baseOptions(flags));
  const warnings = new Warnings();
  const progress = new Progress({ tasks: tasks.map((t) => t.name) });
  const result = await multiTaskKind.training.train({
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
    logStages(training.stages, {
      extra: [{ header: 'task weights', cell: (s) => g.tasks.map((_, t) => s.metrics[`weight:${t}`].toFixed(2)).join(', ') }],
      auto: flags.unfreeze === 'auto' ? training : undefined,
    });
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
