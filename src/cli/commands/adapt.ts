import { Command, Option } from 'commander';
import { loadBase } from '../../bases/index.js';
import { applyPerClass, loadDataSplits } from '../../data/index.js';
import { loadTarget } from '../../data/target.js';
import type { Skipped } from '../../data/types.js';
import { ADAPT_METHODS, type AdaptMethod } from '../../strategies/adapt/adapt.js';
import {
  disposeDomainFeatures,
  domainFeatures,
  domainImages,
  runAdaptation,
  type AdaptData,
  type DomainFeatures,
  type LabelledSet,
} from '../../strategies/adapt/pipeline.js';
import { FeatureCache } from '../../train/feature-cache.js';
import { ENGINES, type Engine } from '../../train/frozen.js';
import { usageError } from '../../errors.js';
import { intArg } from '../args.js';
import { baseOptions, withBaseFlags, type BaseFlags } from '../base-flags.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, note, pct, printJson, Progress, table, warn } from '../output.js';
import { skippedWarning } from './train.js';
import { isTextBase } from '../../train/text.js';
import { adaptTextAction } from './adapt-text.js';
import { checkImageOnlyFlags } from './train-text.js';

export interface AdaptFlags extends GlobalOptions, BaseFlags {
  base: string;
  source: string;
  target: string;
  evalTarget?: string;
  targetLabels?: number;
  method: AdaptMethod;
  cut: string;
  epochs: number;
  seed: number;
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
  trunk: 'frozen' | 'trainable';
  textColumn?: string;
  labelColumn?: string;
  adversary: 'reversal' | 'confusion';
}

/** One method and its source-only baseline on the same features and seed, reported. */
export async function runAndReport(
  features: DomainFeatures,
  data: AdaptData<LabelledSet>,
  flags: Pick<AdaptFlags, 'method' | 'epochs' | 'seed' | 'json' | 'adversary'>,
  header: string,
): Promise<void> {
  const onEpoch = (e: { round: number; epoch: number; loss: number; sourceValAccuracy: number }) =>
    note(
      `${flags.method}${e.round ? ` round ${e.round}` : ''} epoch ${e.epoch}/${flags.epochs} loss ${e.loss.toFixed(4)} source val_acc ${pct(e.sourceValAccuracy)}`,
    );
  const result = await runAdaptation(features, data, flags.method, {
    epochs: flags.epochs,
    seed: flags.seed,
    adversary: flags.adversary,
    onEpoch,
  });
  // Every method is compared with source-only training on the same features and seed.
  const baseline =
    flags.method === 'none'
      ? result
      : await runAdaptation(features, { ...data, targetLabelled: undefined }, 'none', { epochs: flags.epochs, seed: flags.seed });
  log(header);
  const rows = [result, ...(baseline === result ? [] : [baseline])].map((r) => [
    r.method + (r === baseline && r !== result ? ' (baseline)' : ''),
    r.target ? pct(r.target.accuracy) : '-',
    r.target ? r.target.macroF1.toFixed(3) : '-',
    pct(r.source.accuracy),
    r.seconds.toFixed(1),
  ]);
  log(table(['method', 'target accuracy', 'target macro-F1', 'source test accuracy', 'train s'], rows));
  log(`checkpoint: ${result.checkpoint}${data.targetLabelled ? '' : ' (no target label used)'}`);
  if (result !== baseline && result.target && baseline.target && result.target.accuracy < baseline.target.accuracy) {
    warn(
      `negative transfer: ${flags.method} ends below source-only training on the target (${pct(result.target.accuracy)} < ${pct(baseline.target.accuracy)})`,
    );
  }
  if (flags.json)
    printJson({
      method: result.method,
      cut: features.cut,
      target: result.target,
      source: result.source,
      checkpoint: result.checkpoint,
      baseline: { target: baseline.target, source: baseline.source },
    });
}

export function adaptCommand(): Command {
  return withBaseFlags(new Command('adapt'))
    .description('domain adaptation: train on a labelled source domain so the model works on a target domain with few or no labels')
    .requiredOption('--base <base>', 'a base (as for train; use-lite or glove-100d for texts)')
    .requiredOption('--source <data>', 'labelled source data: image folder, manifest, or a built-in set (mnist, mnist-rgb, mnist-m)')
    .requiredOption(
      '--target <data>',
      'target images: a folder of images, a manifest without labels, or labelled data (labels ignored unless --target-labels)',
    )
    .option('--eval-target <data>', 'labelled target data the result is reported on')
    .option(
      '--target-labels <n>',
      'let N labelled target images per class into training (semi-supervised; needs a labelled --target)',
      intArg('--target-labels', 1),
    )
    .addOption(new Option('--method <method>', 'adaptation method').choices([...ADAPT_METHODS]).makeOptionMandatory())
    .option('--cut <layer>', 'layer to cut the base at (auto: the best LogME on the source)', 'auto')
    .addOption(
      new Option(
        '--trunk <mode>',
        "frozen: adapt on the trunk's cached features (fast); trainable: train the trunk too, on the images (small bases)",
      )
        .choices(['frozen', 'trainable'])
        .default('frozen'),
    )
    .addOption(
      new Option(
        '--adversary <kind>',
        "dann: reversal (Ganin et al.'s gradient reversal) or confusion (Tzeng et al.'s bounded confusion loss, steadier when a whole trunk trains)",
      )
        .choices(['reversal', 'confusion'])
        .default('reversal'),
    )
    .option('--epochs <n>', 'passes over the source', intArg('--epochs', 1), 30)
    .option('--seed <n>', 'random seed', intArg('--seed'), 0)
    .addOption(new Option('--engine <engine>', 'where the frozen part runs').choices(ENGINES).default('auto'))
    .option('--no-cache', 'do not read or write the feature cache')
    .option('--cache-dir <dir>', 'feature cache directory')
    .option('--text-column <name>', 'text bases: the column (JSONL: key) holding the text (default: text)')
    .option('--label-column <name>', 'text bases: the column holding the label (default: label)')
    .action(async (flags: AdaptFlags, cmd: Command) => {
      if (isTextBase(flags.base)) {
        checkImageOnlyFlags(cmd, ['cut', 'trunk', 'engine', 'mean', 'std', 'inputSize', 'layout']);
        await prepare(flags);
        return adaptTextAction({ ...flags, base: flags.base });
      }
      if (flags.textColumn || flags.labelColumn)
        throw usageError(`--text-column and --label-column apply to text bases (use-lite, glove-100d), not to ${flags.base}`);
      await prepare(flags);
      const base = await loadBase(flags.base, baseOptions(flags));
      const skipped: Skipped[] = [];
      const progress = new Progress();
      const load = {
        size: base.input,
        resize: base.resize,
        onSkip: (s: Skipped) => skipped.push(s),
        onProgress: (d: number, t: number) => progress.step('decoding images', d, t),
      };
      const source = await loadDataSplits(flags.source, { ...load, seed: flags.seed });
      const classes = source.train.classes;
      const target = await loadTarget(flags.target, { ...load, classes });
      const evalTarget = flags.evalTarget ? await loadTarget(flags.evalTarget, { ...load, classes }) : undefined;
      if (evalTarget && !evalTarget.labelled) throw usageError(`--eval-target ${flags.evalTarget} has no labels to report on`);
      if (flags.targetLabels && !target.labelled)
        throw usageError(`--target-labels needs labelled target data; ${flags.target} has no labels`);
      progress.stop();
      skippedWarning(skipped);
      const data: AdaptData = {
        source,
        target: target.set,
        evalTarget: evalTarget?.set,
        targetLabelled: flags.targetLabels ? applyPerClass(target.set, flags.targetLabels, flags.seed) : undefined,
      };
      if (flags.method === 'adabn' && flags.trunk === 'frozen' && !base.model)
        throw usageError(
          `adabn recomputes the trunk's BatchNorm statistics, and ${base.name} is a frozen graph or ONNX model: use a TF.js LayersModel base`,
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
              adabn: flags.method === 'adabn',
              onStep: flags.json ? undefined : note,
            });
      try {
        await runAndReport(
          features,
          data,
          flags,
          `base ${base.name}, cut at ${features.cut} (trunk ${flags.trunk}); source ${source.train.labels.length} train / ${source.val.labels.length} val / ${source.test.labels.length} test, target ${target.set.labels.length} images${data.targetLabelled ? ` (${data.targetLabelled.labels.length} labelled let in)` : ' (labels not used)'}`,
        );
      } finally {
        disposeDomainFeatures(features);
      }
    });
}
