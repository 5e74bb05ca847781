import { Command, Option } from 'commander';
import { concat, loadDataSplits, parseClassFilter } from '../../data/index.js';
import type { Skipped } from '../../data/types.js';
import { usageError } from '../../errors.js';
import { evaluateModel } from '../../evaluate/evaluate.js';
import { loadTrained } from '../../export/trained.js';
import { pipeline } from '../../graft/graft.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson, table } from '../output.js';
import { intArg } from '../args.js';
import { skippedWarning } from './train.js';
import { reportWarnings } from './train-text.js';
import { isTextModel, loadTextClassifier } from '../../export/text.js';
import { evaluateText } from '../../evaluate/text.js';
import type { Metrics } from '../../evaluate/metrics.js';
import { loadText, splitText, type TextWarning } from '../../data/text/index.js';
import { alignTasks, loadMultiTask } from '../../data/multitask/load.js';
import { splitMultiTask } from '../../data/multitask/split.js';
import { isTasksModel, loadTasks } from '../../export/multitask.js';
import { evaluateTasks } from '../../train/multitask.js';
import { taskSummary, taskTable } from './train-tasks.js';

type EvalFlags = GlobalOptions & {
  model: string;
  data: string;
  classes?: string;
  split: 'test' | 'val' | 'train' | 'all';
  seed?: number;
  strict: boolean;
  textColumn?: string;
  labelColumn?: string;
};

/** `set` (images or texts) with its class indices in the model's label order; a class the model does not know is a usage error. */
function inModelOrder<T extends { classes: string[]; labels: Int32Array }>(set: T, labels: string[]): T {
  const unknown = set.classes.filter((c) => !labels.includes(c));
  if (unknown.length) throw usageError(`classes not known to the model: ${unknown.join(', ')} (model labels: ${labels.join(', ')})`);
  return { ...set, classes: labels, labels: Int32Array.from(set.labels, (l) => labels.indexOf(set.classes[l])) };
}

/** Per-class metrics and the confusion matrix, as a person reads them. */
function report(what: string, m: Metrics, labels: string[]): void {
  log(`${what}: accuracy ${pct(m.accuracy)}, macro-F1 ${m.macroF1.toFixed(3)}`);
  log(
    table(
      ['class', 'precision', 'recall', 'f1', 'support'],
      m.perClass.map((c) => [c.label, c.precision.toFixed(3), c.recall.toFixed(3), c.f1.toFixed(3), c.support]),
    ),
  );
  log('confusion (rows: true, columns: predicted)');
  log(
    table(
      ['', ...labels],
      m.confusion.map((row, i) => [labels[i], ...row]),
    ),
  );
}

/** A multi-task model on data labelled for its tasks: the same splits as graft train's with the same seed, then each task's metrics. */
async function evalTasks(flags: EvalFlags): Promise<void> {
  const model = await loadTasks(flags.model);
  try {
    const { meta } = model;
    const skipped: Skipped[] = [];
    const seed = flags.seed ?? (typeof meta.training.seed === 'number' ? meta.training.seed : 0);
    const tasks = meta.tasks.map((t) => ({ name: t.name, kind: t.kind, column: t.column }));
    const { set } = await loadMultiTask(flags.data, {
      tasks,
      size: meta.input,
      resize: meta.resize,
      strict: flags.strict,
      onSkip: (s) => skipped.push(s),
      seed,
      anyClasses: true,
    });
    skippedWarning(skipped);
    // Split as training did (by the data's own labels), then put the labels in the model's class order.
    const part = alignTasks(flags.split === 'all' ? set : splitMultiTask(set, { seed })[flags.split], meta.tasks);
    const m = await evaluateTasks(model, part);
    log(
      `${flags.model} on ${flags.data} (${flags.split === 'all' ? 'all' : `${flags.split} split`}, ${part.ids.length} images)${Number.isNaN(m.meanAccuracy) ? '' : `: mean accuracy ${pct(m.meanAccuracy)}`}`,
    );
    log(taskTable(m));
    for (const t of m.tasks)
      if (t.metrics)
        report(
          `task ${t.task}`,
          t.metrics,
          t.metrics.perClass.map((c) => c.label),
        );
    if (flags.json) printJson({ model: flags.model, data: flags.data, split: flags.split, metrics: taskSummary(m) });
  } finally {
    model.model.dispose();
  }
}

/** A text model on a text table or corpus: the same splits as graft train's with the same seed. */
async function evalText(flags: EvalFlags): Promise<void> {
  const { classifier, meta } = await loadTextClassifier(flags.model);
  try {
    const warnings: TextWarning[] = [];
    const set = await loadText(flags.data, {
      textColumn: flags.textColumn,
      labelColumn: flags.labelColumn,
      classes: flags.classes?.split(',').map((c) => c.trim()),
      onWarning: (w) => warnings.push(w),
    });
    reportWarnings(warnings);
    const relabelled = inModelOrder(set, meta.labels);
    const seed = flags.seed ?? (typeof meta.training.seed === 'number' ? meta.training.seed : 0);
    const part = flags.split === 'all' ? relabelled : splitText(relabelled, { seed })[flags.split];
    const m = await evaluateText(classifier, part);
    report(`${flags.model} on ${flags.data} (${flags.split === 'all' ? 'all' : `${flags.split} split`}, ${m.n} texts)`, m, meta.labels);
    if (flags.json) printJson({ model: flags.model, data: flags.data, metrics: m });
  } finally {
    classifier.dispose();
  }
}

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a trained model on a data set (by default its test split, the same as train's with the same --seed)")
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .requiredOption(
      '--data <data>',
      'image folder, CSV/JSONL manifest, or a built-in set (mnist, mnist-rgb, mnist-m); for a text model: a CSV/TSV/JSONL table or spam-assassin[:GROUP,…]; for a multi-task model: data labelled for its tasks, as graft train --task takes it',
    )
    .option('--classes <spec>', 'use only these classes (e.g. 5-9 for mnist)')
    .addOption(
      new Option('--split <name>', 'which part of the data to evaluate on').choices(['test', 'val', 'train', 'all']).default('test'),
    )
    .option('--seed <n>', 'split seed (default: the seed the model was trained with)', intArg('--seed'))
    .option('--strict', 'fail on unreadable files instead of skipping them', false)
    .option('--text-column <name>', 'text models: the column (JSONL: key) holding the text (default: text)')
    .option('--label-column <name>', 'text models: the column holding the label (default: label)')
    .action(async (flags: EvalFlags) => {
      await prepare(flags);
      if (await isTextModel(flags.model)) return evalText(flags);
      if (await isTasksModel(flags.model)) {
        if (flags.classes || flags.textColumn || flags.labelColumn)
          throw usageError('--classes, --text-column and --label-column do not apply to a multi-task model');
        return evalTasks(flags);
      }
      const trained = await loadTrained(flags.model);
      const { meta } = trained;
      const skipped: Skipped[] = [];
      const splits = await loadDataSplits(flags.data, {
        size: meta.input,
        resize: meta.resize,
        strict: flags.strict,
        classes: flags.classes ? parseClassFilter(flags.classes) : undefined,
        onSkip: (s) => skipped.push(s),
        seed: flags.seed ?? (typeof meta.training.seed === 'number' ? meta.training.seed : 0),
      });
      skippedWarning(skipped);
      const test =
        flags.split === 'all' ? concat(splits.train, splits.val, ...(splits.testIsVal ? [] : [splits.test])) : splits[flags.split];
      const relabelled = inModelOrder(test, meta.labels);
      const m = await evaluateModel(pipeline(trained), relabelled, meta.normalize, meta.labels);
      report(`${flags.model} on ${flags.data} (${flags.split} split, ${m.n} images)`, m, meta.labels);
      if (flags.json) printJson({ model: flags.model, data: flags.data, metrics: m });
    });
}
