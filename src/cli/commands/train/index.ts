// `graft train`: a base, data and an output directory; images (one task or several, --task) or
// texts (a text base). The paths are this folder's other modules.
import { BASES } from '../../../bases/index.js';
import { Command, Option } from 'commander';
import { usageError } from '../../../core/errors.js';
import { ENGINES } from '../../../engine/frozen.js';
import { TRAIN_DEFAULTS } from '../../../train/defaults.js';
import { DETECTION_DEFAULTS } from '../../../train/detection.js';
import { UNFREEZE_AUTO_MAX } from '../../../train/stages.js';
import {
  BASE_FLAG_KEYS,
  cacheOutput,
  checkOutputs,
  isTextBaseFlag,
  collect,
  collectWhere,
  intArg,
  numArg,
  prepare,
  refuseImageFlags,
  WHERE_HELP,
  withBaseFlags,
} from '../../shared.js';
import { trainDetection } from './detect.js';
import type { TrainFlags } from './flags.js';
import { trainImages } from './images.js';
import { trainTasks } from './tasks.js';
import { trainTexts } from './texts.js';

/** `graft train`'s image-only flags, refused with a text base. */
/** Flags a text base refuses (--cut and --offline apply to Hub text models). */
const IMAGE_ONLY = ['head', 'engine', 'stream', 'strict', ...BASE_FLAG_KEYS.filter((k) => k !== 'offline')] as const;

const unfreezeArg = (v: string) => (v === 'auto' ? ('auto' as const) : intArg('--unfreeze (or auto)')(v));

export function trainCommand(): Command {
  return withBaseFlags(new Command('train'))
    .description('graft a new head on a base and fine-tune it on your data')
    .requiredOption(
      '--base <base>',
      'mobilenet_v2, inception_v3, digits-cnn, a path/URL to a TF.js model.json, or onnx:PATH; for audio: speech-cnn; for text: use-lite or glove-100d',
    )
    .requiredOption(
      '--data <data>',
      'image folder (root/<class>/*.jpg), CSV/JSONL manifest, or a built-in set (mnist, mnist-rgb, mnist-m); for --head detect: COCO JSON, a folder of Pascal VOC XML, or a YOLO folder (images/ + labels/); for text: a CSV/TSV/JSONL table or spam-assassin[:GROUP,…]; with --task: a manifest with a column per task, nested folders root/<task 1 class>/<task 2 class>/…, or digits-in-scenes[:COUNT]',
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
      "layer to cut the base at: name, index, or auto (the block output with the best LogME on your data; the base's usual cut for frozen bases; with --head detect, the last stride-16 feature map)",
      'auto',
    )
    .option('--head <head>', "linear, mlp[:UNITS] (default: the base's suggested head), or detect (object detection on boxes)")
    .option(
      '--augment <n>',
      `detect: randomly scaled, cropped and flipped copies of each training image (default ${DETECTION_DEFAULTS.augment})`,
      intArg('--augment', 0),
    )
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
    .option('--where <column=values>', WHERE_HELP, collectWhere(), [])
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
      // Before anything is loaded, on every path (images, texts, tasks, detection).
      checkOutputs({
        out: [{ path: flags.out, kind: 'dir', force: flags.force }],
        into: [cacheOutput(flags)],
      });
      const textBase = await isTextBaseFlag(flags);
      if (flags.head === 'detect') {
        if (textBase) throw usageError(`--head detect needs an image base, not ${flags.base}`);
        return trainDetection(flags, cmd);
      }
      if (flags.augment !== undefined) throw usageError('--augment applies to --head detect');
      if (flags.task.length) {
        if (textBase) throw usageError(`--task (multi-task) needs an image base, not ${flags.base}`);
        return trainTasks(flags, cmd);
      }
      if (flags.taskWeights !== undefined) throw usageError('--task-weights applies to multi-task training (--task)');
      if (textBase) {
        // An embedded text base has one output; a Hub model's outputs and poolings are its cuts.
        refuseImageFlags(cmd, BASES[flags.base] ? [...IMAGE_ONLY, 'cut'] : IMAGE_ONLY);
        await prepare(flags);
        return trainTexts(flags);
      }
      if (flags.textColumn || flags.labelColumn)
        throw usageError(`--text-column and --label-column apply to text bases (use-lite, glove-100d), not to ${flags.base}`);
      return trainImages(flags);
    });
}
