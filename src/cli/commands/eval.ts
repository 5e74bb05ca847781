import { Command } from 'commander';
import { loadDataSplits, parseClassFilter } from '../../data/index.js';
import type { Skipped } from '../../data/types.js';
import { usageError } from '../../errors.js';
import { evaluateModel } from '../../evaluate/evaluate.js';
import { loadTrained } from '../../export/trained.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson, table } from '../output.js';
import { intArg, skippedWarning } from './train.js';

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a trained model on a data set's test split (same split as train with the same --seed)")
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .requiredOption('--data <data>', 'image folder, CSV/JSONL manifest, or mnist')
    .option('--classes <spec>', 'use only these classes (e.g. 5-9 for mnist)')
    .option('--seed <n>', 'split seed', intArg('--seed'), 0)
    .option('--strict', 'fail on unreadable files instead of skipping them', false)
    .action(async (flags: GlobalOptions & { model: string; data: string; classes?: string; seed: number; strict: boolean }) => {
      await prepare(flags);
      const { model, meta } = await loadTrained(flags.model);
      const skipped: Skipped[] = [];
      const splits = await loadDataSplits(flags.data, {
        size: meta.input,
        resize: meta.resize,
        strict: flags.strict,
        classes: flags.classes ? parseClassFilter(flags.classes) : undefined,
        onSkip: (s) => skipped.push(s),
        seed: flags.seed,
      });
      skippedWarning(skipped);
      const test = splits.test;
      const unknown = test.classes.filter((c) => !meta.labels.includes(c));
      if (unknown.length) throw usageError(`classes not known to the model: ${unknown.join(', ')} (model labels: ${meta.labels.join(', ')})`);
      // Relabel the data's class indices into the model's label order.
      const relabelled = { ...test, classes: meta.labels, labels: Int32Array.from(test.labels, (l) => meta.labels.indexOf(test.classes[l])) };
      const m = evaluateModel(model, relabelled, meta.normalize, meta.labels);
      log(`${flags.model} on ${flags.data} (test split, ${m.n} images): accuracy ${pct(m.accuracy)}, macro-F1 ${m.macroF1.toFixed(3)}`);
      log(table(['class', 'precision', 'recall', 'f1', 'support'], m.perClass.map((c) => [c.label, c.precision.toFixed(3), c.recall.toFixed(3), c.f1.toFixed(3), c.support])));
      log('confusion (rows: true, columns: predicted)');
      log(table(['', ...meta.labels], m.confusion.map((row, i) => [meta.labels[i], ...row])));
      if (flags.json) printJson({ model: flags.model, data: flags.data, metrics: m });
    });
}
