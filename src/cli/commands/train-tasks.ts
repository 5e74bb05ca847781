// `graft train --task NAME:KIND[:COLUMN] …`: one shared trunk, a head per task (trainMultiTaskModel).
import type { Command } from 'commander';
import { loadBase } from '../../bases/index.js';
import { parseTaskArg } from '../../data/multitask/load.js';
import type { Skipped } from '../../data/types.js';
import { usageError } from '../../errors.js';
import { saveTasks } from '../../export/multitask.js';
import { assertWritable } from '../../io/atomic.js';
import { parseHead } from '../../graft/head.js';
import type { Engine } from '../../train/frozen.js';
import type { TaskMetrics } from '../../train/multitask.js';
import { trainMultiTaskModel, type TaskEvaluation } from '../../train/multitask-model.js';
import { refuseFlags } from '../args.js';
import { baseOptions, type BaseFlags } from '../base-flags.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson, Progress, table } from '../output.js';
import { fitFlags, skippedWarning } from './train.js';

export interface TrainTasksFlags extends GlobalOptions, BaseFlags {
  base: string;
  data: string;
  out: string;
  task: string[];
  taskWeights?: string;
  cut: string;
  head?: string;
  unfreeze: number | 'auto';
  epochs: number;
  batchSize: number;
  lr: number;
  patience: number;
  seed: number;
  strict: boolean;
  force: boolean;
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
}

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

/** One row per task: its metrics on the samples labelled for it. */
export function taskTable(m: TaskEvaluation): string {
  return table(
    ['task', 'kind', 'labelled', 'accuracy', 'macro-F1', 'mse'],
    m.tasks.map((t) => [
      t.task,
      t.kind,
      t.n,
      t.accuracy === undefined ? '-' : pct(t.accuracy),
      t.macroF1 === undefined ? '-' : t.macroF1.toFixed(3),
      t.mse === undefined ? '-' : t.mse.toFixed(4),
    ]),
  );
}

/** What --json shows of a task's metrics (the per-class details stay in graft.json). */
export const taskSummary = (m: TaskEvaluation) => ({
  meanAccuracy: m.meanAccuracy,
  tasks: Object.fromEntries(
    m.tasks.map((t: TaskMetrics) => [t.task, { kind: t.kind, n: t.n, accuracy: t.accuracy, macroF1: t.macroF1, mse: t.mse }]),
  ),
});

export async function trainTasksAction(flags: TrainTasksFlags, cmd: Command): Promise<void> {
  refuseFlags(cmd, SINGLE_TASK_ONLY, 'to single-task training, not with --task');
  if (flags.unfreeze === 'auto') throw usageError('--unfreeze auto is for single-task training; with --task give a number of blocks');
  const tasks = flags.task.map(parseTaskArg);
  const weights = parseTaskWeights(flags.taskWeights, tasks.length);
  assertWritable(flags.out, flags.force);
  await prepare(flags);
  const base = await loadBase(flags.base, baseOptions(flags));
  const skipped: Skipped[] = [];
  const progress = new Progress();
  let stage = 'heads';
  const result = await trainMultiTaskModel({
    base,
    data: flags.data,
    tasks,
    cut: flags.cut,
    head: flags.head ? parseHead(flags.head, base.head) : undefined,
    weights,
    unfreeze: flags.unfreeze,
    ...fitFlags(flags, progress, skipped),
    onStage: (s) => (stage = s),
    onFeatures: (done, total) => progress.step(`${stage}: frozen features`, done, total),
    onEpoch: (e) =>
      progress.epochLine(
        stage,
        e.epoch,
        e.epochs,
        `loss ${e.loss.toFixed(4)} val_loss ${e.valLoss.toFixed(4)} (${e.taskValLosses.map((l, i) => `${tasks[i].name} ${l.toFixed(4)}`).join(', ')})`,
      ),
  });
  progress.stop();
  skippedWarning(skipped);
  const { grafted, training, metrics, counts } = result;
  try {
    await saveTasks(grafted, flags.out, {
      force: flags.force,
      metrics,
      training: {
        stages: training.stages,
        unfreeze: training.unfreeze,
        weights: flags.taskWeights ?? 'fixed',
        counts,
        seed: flags.seed,
        skipped: skipped.length,
      },
    });
    log(
      `base ${base.name}, cut at ${grafted.cut}${training.unfreeze ? `, top ${training.unfreeze} block${training.unfreeze > 1 ? 's' : ''} fine-tuned` : ', trunk frozen'}; ${counts.train} train / ${counts.val} val / ${counts.test} test images; tasks ${grafted.tasks.map((t) => `${t.name} (${t.kind}${t.classes ? `, ${t.classes.length} classes` : ''})`).join(', ')}`,
    );
    log(
      table(
        ['stage', 'trainable from', 'epochs', 'best epoch', 'best val loss', 'task weights', 'feature s', 'train s'],
        training.stages.map((s) => [
          s.stage,
          s.boundary,
          s.epochsRun,
          s.bestEpoch,
          s.bestValLoss.toFixed(4),
          s.weights.map((w) => w.toFixed(2)).join(', '),
          s.featureSeconds.toFixed(1),
          s.seconds.toFixed(1),
        ]),
      ),
    );
    log(
      `test (${counts.test} images)${Number.isNaN(metrics.test.meanAccuracy) ? '' : `, mean accuracy ${pct(metrics.test.meanAccuracy)}`}:`,
    );
    log(taskTable(metrics.test));
    log(`saved to ${flags.out}`);
    if (flags.json)
      printJson({
        out: flags.out,
        tasks: grafted.tasks,
        cut: grafted.cut,
        frozenTo: grafted.frozenTo,
        unfreeze: training.unfreeze,
        metrics: { val: taskSummary(metrics.val), test: taskSummary(metrics.test) },
        seconds: training.seconds,
      });
  } finally {
    grafted.model.dispose();
  }
}
