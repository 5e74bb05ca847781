// `graft train` when the base is a text base (use-lite, glove-100d): texts from a table or the
// built-in corpus, split as images are, a head trained (or glove fine-tuned, or TF-IDF with
// --scratch), evaluated on val and test, saved.
import type { Command } from 'commander';
import { loadText, splitText, type TextWarning } from '../../data/text/index.js';
import type { Metrics } from '../../evaluate/metrics.js';
import { evaluateText } from '../../evaluate/text.js';
import { saveTextClassifier } from '../../export/text.js';
import { trainText, type TextBaseName } from '../../train/text.js';
import { log, pct, printJson, Progress, table, warn } from '../output.js';
import { refuseFlags } from '../args.js';

export interface TextTrainFlags {
  base: TextBaseName;
  data: string;
  out: string;
  textColumn?: string;
  labelColumn?: string;
  classes?: string;
  perClass?: number;
  epochs: number;
  unfreeze: number | 'auto';
  batchSize: number;
  lr: number;
  patience: number;
  seed: number;
  scratch: boolean;
  force: boolean;
  json?: boolean;
}

/** Image-only flags given with a text base would silently do nothing: a usage error instead. */
export function checkImageOnlyFlags(cmd: Command, keys: readonly string[]): void {
  refuseFlags(cmd, keys, `to image bases, not to ${cmd.getOptionValue('base')}`);
}

/** `graft train`'s image-only flags. */
export const TRAIN_IMAGE_ONLY = ['cut', 'head', 'engine', 'stream', 'strict', 'mean', 'std', 'inputSize', 'layout'] as const;

const WARNING_TEXT: Record<TextWarning['kind'], (n: number) => string> = {
  empty: (n) => `skipped ${n} row${n > 1 ? 's' : ''} with no text`,
  'no-label': (n) => `skipped ${n} row${n > 1 ? 's' : ''} with no label`,
  'invalid-utf8': (n) => `replaced invalid UTF-8 bytes with U+FFFD in ${n} row${n > 1 ? 's' : ''}`,
  duplicate: (n) => `dropped ${n} exact duplicate${n > 1 ? 's' : ''} of earlier texts`,
  truncated: (n) => `truncated ${n} text${n > 1 ? 's' : ''} to the base's token limit`,
};

/** One warning line per kind, with the first few places it happened. */
export function reportWarnings(warnings: TextWarning[]): void {
  for (const kind of Object.keys(WARNING_TEXT) as TextWarning['kind'][]) {
    const ids = warnings.filter((w) => w.kind === kind).map((w) => w.id);
    if (ids.length) warn(`${WARNING_TEXT[kind](ids.length)}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
  }
}

export async function trainTextAction(flags: TextTrainFlags): Promise<void> {
  const warnings: TextWarning[] = [];
  const onWarning = (w: TextWarning) => warnings.push(w);
  const set = await loadText(flags.data, {
    textColumn: flags.textColumn,
    labelColumn: flags.labelColumn,
    classes: flags.classes?.split(',').map((c) => c.trim()),
    onWarning,
  });
  const splits = splitText(set, { seed: flags.seed, perClass: flags.perClass });
  const fineTune = !flags.scratch && flags.base === 'glove-100d' && flags.unfreeze !== 0;
  const progress = new Progress();
  const truncated = new Set<string>();
  const result = await trainText(splits.train, splits.val, {
    base: flags.base,
    scratch: flags.scratch,
    fineTune,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.lr,
    patience: flags.patience,
    seed: flags.seed,
    onEmbed: (done, total) => progress.step(`${flags.base}: embedding`, done, total),
    onEpoch: (e) => progress.epoch(e),
    onTruncate: (id) => truncated.add(id),
  });
  const { classifier } = result;
  try {
    const metrics = { val: await evaluateText(classifier, splits.val), test: await evaluateText(classifier, splits.test) };
    progress.stop();
    reportWarnings([...warnings, ...[...truncated].map((id) => ({ kind: 'truncated' as const, id }))]);
    const counts = { train: splits.train.texts.length, val: splits.val.texts.length, test: splits.test.texts.length };
    const { report } = result;
    await saveTextClassifier(classifier, flags.out, {
      force: flags.force,
      metrics,
      training: { ...report, counts, seed: flags.seed, perClass: flags.perClass ?? null, seconds: result.seconds },
    });
    const how = flags.scratch
      ? `TF-IDF logistic regression from scratch (L2 ${report.tfidf!.l2.toExponential(2)}, cross-validated)`
      : `${flags.base}, ${classifier.mode}`;
    log(`${how}; ${counts.train} train / ${counts.val} val / ${counts.test} test texts, ${set.classes.length} classes`);
    if (report.probe)
      log(
        `head started at the linear probe: L2 ${report.probe.l2}, cross-validated accuracy ${pct(report.probe.cvAccuracy)} on the training texts`,
      );
    const stages = [report.head, report.fineTune].filter((s) => s !== undefined);
    if (stages.length)
      log(
        table(
          ['stage', 'epochs', 'best epoch', 'best val loss', 'train s'],
          stages.map((s) => [s.stage, s.epochsRun, s.bestEpoch, s.bestValLoss.toFixed(4), s.seconds.toFixed(1)]),
        ),
      );
    if (flags.base === 'use-lite' && flags.unfreeze !== 0 && !flags.scratch) log('use-lite is a frozen graph: only its head was trained');
    log(
      table(
        ['split', 'accuracy', 'macro-F1'],
        [
          ['val', pct(metrics.val.accuracy), metrics.val.macroF1.toFixed(3)],
          ['test', pct(metrics.test.accuracy), metrics.test.macroF1.toFixed(3)],
        ],
      ),
    );
    log(`saved to ${flags.out}`);
    const summary = (m: Metrics) => ({ accuracy: m.accuracy, macroF1: m.macroF1 });
    if (flags.json)
      printJson({
        out: flags.out,
        classes: set.classes,
        base: classifier.base,
        mode: classifier.mode,
        metrics: { val: summary(metrics.val), test: summary(metrics.test) },
        counts,
        seconds: result.seconds,
      });
  } finally {
    progress.stop();
    classifier.dispose();
  }
}
