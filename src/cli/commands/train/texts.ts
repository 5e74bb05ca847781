// `graft train` when the base is a text base (use-lite, glove-100d): texts from a table or the
// built-in corpus, split as images are, a head trained (or glove fine-tuned, or TF-IDF with
// --scratch), evaluated on val and test, saved.
import type { Command } from 'commander';
import { embeddedBase } from '../../../bases/index.js';
import { usageError } from '../../../core/errors.js';
import { textKind } from '../../../kinds/text.js';
import type { Metrics } from '../../../evaluate/metrics.js';
import { log, pct, prepare, printJson, Progress, Warnings } from '../../shared.js';
import { budget, logStages, metricsTable, type TrainFlags } from './flags.js';

export async function trainTexts(flags: TrainFlags, cmd: Command): Promise<void> {
  // An embedded text base has one output; a Hub model's outputs and poolings are its cuts.
  if (embeddedBase(flags.base) && cmd.getOptionValueSource('cut') === 'cli')
    throw usageError(`--cut applies to image bases and Hub text models, not to ${flags.base}`);
  await prepare(flags);
  const warnings = new Warnings();
  const progress = new Progress();
  const result = await textKind.training.train({
    base: flags.base,
    data: flags.data,
    textColumn: flags.textColumn,
    labelColumn: flags.labelColumn,
    where: flags.where,
    classes: flags.classes?.split(',').map((c) => c.trim()),
    perClass: flags.perClass,
    scratch: flags.scratch,
    cut: flags.cut,
    // auto searches image blocks; glove has one thing to fine-tune, its vectors.
    unfreeze: flags.unfreeze === 'auto' ? 1 : flags.unfreeze,
    ...budget(flags),
    trainEngine: flags.trainEngine,
    callbacks: [progress, warnings],
  });
  const { model, metrics, counts, report } = result;
  try {
    progress.stop();
    warnings.report();
    await model.save(flags.out, { force: flags.force });
    const how = flags.scratch
      ? `TF-IDF logistic regression from scratch (L2 ${report.tfidf!.l2.toExponential(2)}, cross-validated)`
      : `${flags.base}, ${model.mode}`;
    log(`${how}; ${counts.train} train / ${counts.val} val / ${counts.test} test texts, ${model.classes.length} classes`);
    if (report.probe)
      log(
        `head started at the linear probe: L2 ${report.probe.l2}, ${Number.isNaN(report.probe.cvAccuracy) ? 'not cross-validated (too few texts per class)' : `cross-validated accuracy ${pct(report.probe.cvAccuracy)} on the training texts`}`,
      );
    const stages = [report.head, report.fineTune].filter((s) => s !== undefined);
    if (stages.length) logStages(stages);
    if (flags.base === 'use-lite' && flags.unfreeze !== 0 && !flags.scratch) log('use-lite is a frozen graph: only its head was trained');
    log(metricsTable(metrics));
    log(`saved to ${flags.out}`);
    const summary = (m: Metrics) => ({ accuracy: m.accuracy, macroF1: m.macroF1 });
    if (flags.json)
      printJson({
        out: flags.out,
        classes: model.classes,
        base: model.base,
        mode: model.mode,
        metrics: { val: summary(metrics.val), test: summary(metrics.test) },
        counts,
        seconds: result.seconds,
      });
  } finally {
    progress.stop();
    await model.dispose();
  }
}
