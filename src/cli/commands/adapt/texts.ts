// `graft adapt` with a text base: source, target and evaluation texts through the frozen base
// once, then the method (and source-only training) on those vectors.
import { loadTextBase, textEncoderAt } from '../../../bases/index.js';
import { usageError } from '../../../core/errors.js';
import { applyPerClassText, loadText, splitText, subsetText, type TextSet } from '../../../data/text/index.js';
import { FeatureCache } from '../../../engine/feature-cache.js';
import { disposeDomainFeatures, type AdaptData } from '../../../strategies/adapt/pipeline.js';
import { textDomainFeatures } from '../../../strategies/adapt/text.js';
import { Progress, Warnings } from '../../shared.js';
import type { AdaptFlags } from './flags.js';
import { runAndReport } from './report.js';

/** `set`'s labels re-indexed into `classes` by name (a label the source lacks becomes -1: unlabelled). */
function inClasses(set: TextSet, classes: string[]): TextSet {
  return { ...set, classes, labels: Int32Array.from(set.labels, (l) => (l < 0 ? -1 : classes.indexOf(set.classes[l]))) };
}

export async function adaptTexts(flags: AdaptFlags): Promise<void> {
  const warnings = new Warnings();
  const columns = {
    textColumn: flags.textColumn,
    labelColumn: flags.labelColumn,
    callbacks: [warnings],
  };
  const source = splitText(await loadText(flags.source, { ...columns, where: flags.sourceWhere }), { seed: flags.seed });
  const classes = source.train.classes;
  const target = inClasses(await loadText(flags.target, { ...columns, where: flags.targetWhere, unlabelled: true }), classes);
  const evalTarget = flags.evalTarget
    ? inClasses(await loadText(flags.evalTarget, { ...columns, where: flags.evalWhere }), classes)
    : undefined;
  if (evalTarget?.labels.some((l) => l < 0))
    throw usageError(`--eval-target ${flags.evalTarget} has labels the source lacks (source classes: ${classes.join(', ')})`);
  let targetLabelled: TextSet | undefined;
  if (flags.targetLabels) {
    const labelled = Array.from(target.labels.keys()).filter((i) => target.labels[i] >= 0);
    if (!labelled.length)
      throw usageError(`--target-labels needs labelled target texts; ${flags.target} has none with the source's classes`);
    targetLabelled = applyPerClassText(subsetText(target, labelled), flags.targetLabels, flags.seed);
  }
  const data: AdaptData<TextSet> = { source, target, evalTarget, targetLabelled };
  const encoder = await textEncoderAt(await loadTextBase(flags.base), flags.cut);
  const progress = new Progress();
  const features = await textDomainFeatures(encoder, data, {
    cache: flags.cache ? new FeatureCache({ dir: flags.cacheDir }) : undefined,
    callbacks: [progress, warnings],
  });
  progress.stop();
  encoder.dispose();
  warnings.report();
  try {
    const header = `base ${flags.base} (frozen); source ${source.train.texts.length} train / ${source.val.texts.length} val / ${source.test.texts.length} test texts, target ${target.texts.length} texts${targetLabelled ? ` (${targetLabelled.texts.length} labelled let in)` : ' (labels not used)'}`;
    await runAndReport(features, data, flags, header);
  } finally {
    disposeDomainFeatures(features);
  }
}
