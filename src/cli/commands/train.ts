import { Command, Option } from 'commander';
import { intArg, numArg } from '../args.js';
import { parseHead } from '../../graft/head.js';
import { assertWritable } from '../../io/atomic.js';
import { saveTrained } from '../../export/trained.js';
import { loadBase } from '../../bases/index.js';
import { parseClassFilter } from '../../data/index.js';
import type { Skipped } from '../../data/types.js';
import { trainClassifier } from '../../train/classifier.js';
import { TRAIN_DEFAULTS, UNFREEZE_AUTO_MAX, type StageReport } from '../../train/train.js';
import { FeatureCache } from '../../train/feature-cache.js';
import { isTextBase } from '../../train/text.js';
import { usageError } from '../../errors.js';
import { checkImageOnlyFlags, TRAIN_IMAGE_ONLY, trainTextAction } from './train-text.js';
import { trainTasksAction } from './train-tasks.js';
import { ENGINES, type Engine } from '../../train/frozen.js';
import { baseOptions, withBaseFlags, type BaseFlags } from '../base-flags.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson, Progress, table, warn } from '../output.js';

interface TrainFlags extends GlobalOptions, BaseFlags {
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
  stream?: boolean;
  base: string;
  data: string;
  out: string;
  perClass?: number;
  epochs: number;
  cut: string;
  head?: string;
  unfreeze: number | 'auto';
  batchSize: number;
  lr: number;
  patience: number;
  seed: number;
  classes?: string;
  scratch: boolean;
  strict: boolean;
  force: boolean;
  textColumn?: string;
  labelColumn?: string;
  task: string[];
  taskWeights?: string;
}

/** A repeatable flag's values, in order. */
const collect = (value: string, previous: string[]) => [...previous, value];

const stageName = (s: StageReport) =>
  s.blocks === undefined ? s.stage : `${s.stage} (${s.blocks} block${s.blocks === 1 ? '' : 's'})${s.kept ? '' : ', not kept'}`;

/** The training options every image `graft train` passes the same way: budget, seed, engine, cache, and where skips and decoding progress go. */
export function fitFlags(
  flags: Pick<TrainFlags, 'epochs' | 'batchSize' | 'lr' | 'patience' | 'seed' | 'strict' | 'engine' | 'cache' | 'cacheDir'>,
  progress: Progress,
  skipped: Skipped[],
) {
  return {
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.lr,
    patience: flags.patience,
    seed: flags.seed,
    strict: flags.strict,
    engine: flags.engine,
    cache: flags.cache ? new FeatureCache({ dir: flags.cacheDir }) : undefined,
    onSkip: (s: Skipped) => skipped.push(s),
    onLoad: (done: number, total: number) => progress.step('decoding images', done, total),
  };
}

/** Report skipped files in one warning, the way a person wants to read it. */
export function skippedWarning(skipped: Skipped[]): void {
  if (!skipped.length) return;
  const shown = skipped.slice(0, 10).map((s) => `${s.path} (${s.reason})`);
  warn(`skipped ${skipped.length} unusable file${skipped.length > 1 ? 's' : ''}: ${shown.join(', ')}${skipped.length > 10 ? ', …' : ''}`);
}

const unfreezeArg = (v: string) => (v === 'auto' ? ('auto' as const) : intArg('--unfreeze (or auto)')(v));

export function trainCommand(): Command {
  return withBaseFlags(new Command('train'))
    .description('graft a new head on a base and fine-tune it on your data')
    .requiredOption(
      '--base <base>',
      'mobilenet_v2, inception_v3, digits-cnn, a path/URL to a TF.js model.json, or onnx:PATH; for text: use-lite or glove-100d',
    )
    .requiredOption(
      '--data <data>',
      'image folder (root/<class>/*.jpg), CSV/JSONL manifest, or a built-in set (mnist, mnist-rgb, mnist-m); for text: a CSV/TSV/JSONL table or spam-assassin[:GROUP,…]; with --task: a manifest with a column per task, nested folders root/<task 1 class>/<task 2 class>/…, or digits-in-scenes[:COUNT]',
    )
    .requiredOption('--out <dir>', 'output directory for the trained model')
    .option(
      '--task <spec>',
      'multi-task: NAME[:KIND[:COLUMN]], KIND classification (default), multi-label or regression, COLUMN the manifest column (default NAME); repeat for each task',
      collect,
      [],
    )
    .option(
      '--task-weights <weights>',
      "multi-task: the tasks' loss weights, comma-separated in --task order (default all 1), or uncertainty (learned, Kendall et al. 2018)",
    )
    .option('--per-class <n>', 'keep N training examples per class (val/test untouched)', intArg('--per-class', 1))
    .option('--epochs <n>', 'maximum epochs per stage', intArg('--epochs', 1), TRAIN_DEFAULTS.epochs)
    .option(
      '--cut <layer>',
      "layer to cut the base at: name, index, or auto (the block output with the best LogME on your data; the base's usual cut for frozen bases)",
      'auto',
    )
    .option('--head <head>', "linear or mlp[:UNITS] (default: the base's suggested head)")
    .option(
      '--unfreeze <n>',
      `blocks below the cut fine-tuned in stage 2: a number (0: head only) or auto (tries 1 to ${UNFREEZE_AUTO_MAX}, keeps the lowest validation loss)`,
      unfreezeArg,
      TRAIN_DEFAULTS.unfreeze,
    )
    .option('--batch-size <n>', 'batch size', intArg('--batch-size', 1), TRAIN_DEFAULTS.batchSize)
    .option('--lr <rate>', 'learning rate of stage 1 (stage 2 uses a tenth)', numArg, TRAIN_DEFAULTS.learningRate)
    .option('--patience <n>', 'early-stopping patience in epochs', intArg('--patience', 1), TRAIN_DEFAULTS.patience)
    .option('--seed <n>', 'random seed (splits, initialisation, shuffling)', intArg('--seed'), 0)
    .option('--classes <spec>', 'use only these classes (e.g. 5-9 for mnist, or a,b,c)')
    .option(
      '--scratch',
      'train the same architecture from freshly initialised weights (baseline); for text: TF-IDF logistic regression',
      false,
    )
    .option('--text-column <name>', 'text bases: the column (JSONL: key) holding the text (default: text)')
    .option('--label-column <name>', 'text bases: the column holding the label (default: label)')
    .option('--strict', 'fail on unreadable files instead of skipping them', false)
    .option('--force', 'overwrite --out if it exists', false)
    .addOption(
      new Option('--engine <engine>', 'where the frozen part runs: auto (ONNX Runtime when available), onnx, tfjs')
        .choices(ENGINES)
        .default('auto'),
    )
    .option('--no-cache', 'do not read or write the feature cache')
    .option('--stream', 'decode images a batch at a time instead of holding them in memory (default: when they would take over 2 GiB)')
    .option(
      '--cache-dir <dir>',
      'feature cache directory (default: GRAFT_CACHE_DIR, else XDG_CACHE_HOME/graft/features, else ~/.cache/graft/features)',
    )
    .action(async (flags: TrainFlags, cmd: Command) => {
      if (flags.task.length) {
        if (isTextBase(flags.base)) throw usageError(`--task (multi-task) needs an image base, not ${flags.base}`);
        return trainTasksAction(flags, cmd);
      }
      if (flags.taskWeights !== undefined) throw usageError('--task-weights applies to multi-task training (--task)');
      if (isTextBase(flags.base)) {
        checkImageOnlyFlags(cmd, TRAIN_IMAGE_ONLY);
        assertWritable(flags.out, flags.force);
        await prepare(flags);
        return trainTextAction({ ...flags, base: flags.base });
      }
      if (flags.textColumn || flags.labelColumn)
        throw usageError(`--text-column and --label-column apply to text bases (use-lite, glove-100d), not to ${flags.base}`);
      assertWritable(flags.out, flags.force);
      await prepare(flags);
      const base = await loadBase(flags.base, baseOptions(flags));
      const skipped: Skipped[] = [];
      const progress = new Progress();
      const result = await trainClassifier({
        base,
        data: flags.data,
        cut: flags.cut,
        head: flags.head ? parseHead(flags.head, base.head) : undefined,
        scratch: flags.scratch,
        perClass: flags.perClass,
        classes: flags.classes ? parseClassFilter(flags.classes) : undefined,
        stream: flags.stream,
        unfreeze: flags.unfreeze,
        ...fitFlags(flags, progress, skipped),
        onFeatures: (stage, done, total) => progress.step(`${stage}: frozen features`, done, total),
        onEpoch: (e) => progress.epoch(e),
      });
      progress.stop();
      skippedWarning(skipped);
      const { grafted, metrics, training, counts, cutChoice } = result;
      const summary = {
        val: { accuracy: metrics.val.accuracy, macroF1: metrics.val.macroF1 },
        test: { accuracy: metrics.test.accuracy, macroF1: metrics.test.macroF1 },
      };
      await saveTrained(grafted, flags.out, {
        force: flags.force,
        metrics: { val: metrics.val, test: metrics.test },
        training: { ...training, counts, seed: flags.seed, perClass: flags.perClass ?? null, skipped: skipped.length },
      });
      log(
        `base ${base.name}, cut at ${grafted.cut}${grafted.scratch ? ' (scratch)' : ''}; ${counts.train} train / ${counts.val} val / ${counts.test} test images, ${grafted.classes.length} classes`,
      );
      if (cutChoice) {
        const usual = cutChoice.ranking.find((r) => r.cut === cutChoice.suggested);
        const check = cutChoice.check;
        if (check?.negative) {
          warn(
            `${base.name} barely helps on this data: a linear probe on its features at ${check.cut} reaches ${pct(check.probe)}, on the images' own pixels ${pct(check.pixelsProbe)} (try another base: graft rank --base A --base B)`,
          );
        }
        log(
          `cut auto: ${cutChoice.cut} has the highest LogME (${cutChoice.ranking[0].logme.toFixed(4)}) of ${cutChoice.ranking.length} block outputs on the training images${usual && usual.cut !== cutChoice.cut ? `; the base's usual cut ${usual.cut} scores ${usual.logme.toFixed(4)}` : ''} (graft rank shows them all; --cut LAYER overrides)`,
        );
      }
      const tried = training.stages.filter((s) => s.blocks !== undefined);
      if (flags.unfreeze === 'auto' && !grafted.scratch) {
        const losses = tried.map((s) => `${s.blocks}: ${s.bestValLoss.toFixed(4)}`).join(', ');
        log(
          `unfreeze auto: kept ${training.unfreeze} block${training.unfreeze === 1 ? '' : 's'} (validation loss head only: ${training.stages[0].bestValLoss.toFixed(4)}${losses ? `; blocks fine-tuned ${losses}` : ''})`,
        );
      }
      log(
        table(
          [
            'stage',
            'trainable from',
            'frozen part on',
            'features computed',
            'cached',
            'feature s',
            'epochs',
            'best epoch',
            'best val loss',
            'train s',
          ],
          training.stages.map((s) => [
            stageName(s),
            s.trainableFrom,
            s.engine,
            s.features.computed,
            s.features.cached,
            s.featureSeconds.toFixed(1),
            s.epochsRun,
            s.bestEpoch,
            s.bestValLoss.toFixed(4),
            s.seconds.toFixed(1),
          ]),
        ),
      );
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
      const stages = training.stages.map((s) => ({
        stage: s.stage,
        blocks: s.blocks,
        kept: s.kept,
        bestValLoss: s.bestValLoss,
        engine: s.engine,
        features: s.features,
        featureSeconds: s.featureSeconds,
        seconds: s.seconds,
      }));
      const cutAuto = cutChoice && {
        by: cutChoice.by,
        suggested: cutChoice.suggested,
        ranking: cutChoice.ranking.map((r) => ({ cut: r.cut, logme: r.logme })),
        check: cutChoice.check,
      };
      if (flags.json)
        printJson({
          out: flags.out,
          classes: grafted.classes,
          cut: grafted.cut,
          cutAuto,
          unfreeze: training.unfreeze,
          scratch: grafted.scratch,
          metrics: summary,
          stages,
          seconds: training.seconds,
        });
    });
}
