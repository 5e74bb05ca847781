// `graft eval`: any trained model on labelled data, by default the test split training made with
// the model's own seed.
import { Command, Option } from 'commander';
import { usageError } from '../../core/errors.js';
import type { DetectionEvaluation } from '../../kinds/detection.js';
import { loadModel, type TrainedModel } from '../../kinds/index.js';
import type { EvaluateOptions } from '../../kinds/types.js';
import {
  checkOutputs,
  classesArg,
  collectWhere,
  intArg,
  log,
  note,
  prepare,
  printJson,
  refuseFlags,
  Warnings,
  WHERE_HELP,
  type GlobalOptions,
} from '../shared.js';

type EvalFlags = GlobalOptions &
  Omit<EvaluateOptions, 'callbacks'> & {
    model: string;
    data: string;
    split: NonNullable<EvaluateOptions['split']>;
    draw?: string;
    force: boolean;
  };

/** Evaluation flags that some kinds do not read. */
const DATA_FLAGS = ['strict', 'classes', 'where', 'textColumn', 'labelColumn'] as const;

export function evalCommand(): Command {
  return new Command('eval')
    .description("evaluate a trained model on a data set (by default its test split, the same as train's with the same --seed)")
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .requiredOption(
      '--data <data>',
      'image folder, CSV/JSONL manifest, or a built-in set (mnist, mnist-rgb, mnist-m); for a text model: a CSV/TSV/JSONL table or spam-assassin[:GROUP,…]; for a multi-task model: data labelled for its tasks, as graft train --task takes it',
    )
    .option('--classes <spec>', 'use only these classes (e.g. 5-9 for mnist)', classesArg)
    .option('--where <column=values>', WHERE_HELP, collectWhere())
    .addOption(
      new Option('--split <name>', 'which part of the data to evaluate on').choices(['test', 'val', 'train', 'all']).default('test'),
    )
    .option('--seed <n>', 'split seed (default: the seed the model was trained with)', intArg('--seed'))
    .option('--strict', 'fail on unreadable files instead of skipping them', false)
    .option(
      '--draw <dir>',
      'detectors: write each evaluated image into DIR (new or empty, unless --force) with its true boxes (dashed) and the detections (solid)',
    )
    .option('--force', '--draw: write into a DIR that holds files, replacing those of the same names', false)
    .option('--text-column <name>', 'text models: the column (JSONL: key) holding the text (default: text)')
    .option('--label-column <name>', 'text models: the column holding the label (default: label)')
    .action(async (flags: EvalFlags, cmd: Command) => {
      checkOutputs({ filled: [{ path: flags.draw, flag: '--draw', force: flags.force }] });
      await prepare(flags);
      const loaded = await loadModel(flags.model);
      const model: TrainedModel = loaded;
      try {
        if (flags.draw !== undefined && model.kind !== 'detection')
          throw usageError(`--draw applies to detectors, not to ${flags.model} (a ${model.kind} model)`);
        const unread = DATA_FLAGS.filter((k) => !(model.dataOptions as readonly string[]).includes(k));
        refuseFlags(cmd, unread, `to other kinds of model, not to ${flags.model} (a ${model.kind} model)`);
        const warnings = new Warnings();
        const e = await model.evaluate(flags.data, { ...flags, callbacks: [warnings] });
        warnings.report();
        log(model.formatEvaluation(e, `${flags.model} on ${flags.data}`));
        if (flags.draw && loaded.kind === 'detection') {
          const written = await loaded.drawEvaluation(e as DetectionEvaluation, flags.draw, undefined, { force: flags.force });
          note(`drew ${written.length} image${written.length === 1 ? '' : 's'} into ${flags.draw}`);
        }
        if (flags.json) printJson({ model: flags.model, data: flags.data, ...model.evaluationJson(e) });
      } finally {
        await model.dispose();
      }
    });
}
