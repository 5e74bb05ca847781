// `graft adapt` on images: source, target and evaluation images loaded for the base, every
// domain through the frozen trunk once (or the trunk trained too), then the method.
import { loadImageBase } from '../../../bases/index.js';
import { usageError } from '../../../core/errors.js';
import { applyPerClass, loadDataSplits } from '../../../data/index.js';
import { loadTarget } from '../../../data/target.js';
import { FeatureCache } from '../../../engine/feature-cache.js';
import { ADAPTATION_METHODS } from '../../../strategies/adapt/methods/index.js';
import { disposeDomainFeatures, domainFeatures, domainImages, type AdaptData } from '../../../strategies/adapt/pipeline.js';
import { baseOptions, Progress, Warnings } from '../../shared.js';
import type { AdaptFlags } from './flags.js';
import { runAndReport } from './report.js';

export async function adaptImages(flags: AdaptFlags): Promise<void> {
  const base = await loadImageBase(flags.base, baseOptions(flags));
  const warnings = new Warnings();
  const progress = new Progress({ steps: !flags.json });
  const load = {
    size: base.input,
    resize: base.resize,
    medium: base.medium,
    callbacks: [warnings, progress],
  };
  const source = await loadDataSplits(flags.source, { ...load, where: flags.sourceWhere, seed: flags.seed });
  const classes = source.train.classes;
  const target = await loadTarget(flags.target, { ...load, where: flags.targetWhere, classes });
  const evalTarget = flags.evalTarget ? await loadTarget(flags.evalTarget, { ...load, where: flags.evalWhere, classes }) : undefined;
  if (evalTarget && !evalTarget.labelled) throw usageError(`--eval-target ${flags.evalTarget} has no labels to report on`);
  if (flags.targetLabels && !target.labelled) throw usageError(`--target-labels needs labelled target data; ${flags.target} has no labels`);
  progress.stop();
  warnings.report();
  const data: AdaptData = {
    source,
    target: target.set,
    evalTarget: evalTarget?.set,
    targetLabelled: flags.targetLabels ? applyPerClass(target.set, flags.targetLabels, flags.seed) : undefined,
  };
  const trunkStatistics = !!ADAPTATION_METHODS[flags.method].trunkStatistics;
  if (trunkStatistics && flags.trunk === 'frozen' && base.kind !== 'layers')
    throw usageError(
      `${flags.method} recomputes the trunk's BatchNorm statistics, and ${base.name} is a frozen graph or ONNX model: use a TF.js LayersModel base`,
    );
  if (flags.trunk === 'trainable' && [source.train, target.set, evalTarget?.set].some((s) => s?.stream))
    throw usageError(
      '--trunk trainable holds the images in memory, and this data is streamed (too large, or --stream): use a frozen trunk or a smaller set',
    );
  const cache = flags.cache ? new FeatureCache({ dir: flags.cacheDir }) : undefined;
  const features =
    flags.trunk === 'trainable'
      ? await domainImages(base, data, { cut: flags.cut })
      : await domainFeatures(base, data, {
          cut: flags.cut,
          engine: flags.engine,
          cache,
          seed: flags.seed,
          trunkStatistics,
          callbacks: [progress],
        });
  try {
    const labelled = data.targetLabelled ? ` (${data.targetLabelled.labels.length} labelled let in)` : ' (labels not used)';
    await runAndReport(
      features,
      data,
      flags,
      `base ${base.name}, cut at ${features.cut} (trunk ${flags.trunk}); source ${source.train.labels.length} train / ${source.val.labels.length} val / ${source.test.labels.length} test, target ${target.set.labels.length} images${labelled}`,
    );
  } finally {
    disposeDomainFeatures(features);
  }
}
