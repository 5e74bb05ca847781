// `graft train`: a base, data and an output directory. Which kind of model it trains (an image or
// text classifier, a multi-task model, a detector) is the kind registry's answer (trainingKind);
// the kind says which flags apply and its budget defaults. The paths are this folder's other
// modules, one per kind.
import { Command, Option } from 'commander';
import { usageError } from '../../../core/errors.js';
import { ENGINES } from '../../../engine/frozen.js';
import { MODEL_KINDS, trainingKind } from '../../../kinds/index.js';
import type { ModelKindName, TrainDefaults, TrainOption } from '../../../kinds/types.js';
import { DETECTION_DEFAULTS } from '../../../train/detection.js';
import { UNFREEZE_AUTO_MAX } from '../../../train/driver.js';
import {
  BASE_FLAG_KEYS,
  cacheOutput,
  checkOutputs,
  classesArg,
  isTextBaseFlag,
  collect,
  collectWhere,
  headStartArg,
  flagName,
  intArg,
  numArg,
  WHERE_HELP,
  withBaseFlags,
} from '../../shared.js';
import { trainDetection } from './detect.js';
import type { TrainFlags } from './flags.js';
import { trainImages } from './images.js';
import { trainTasks } from './tasks.js';
import { trainTexts } from './texts.js';

/** Each kind's path: its one-call trainer with the flags it reads, then what it shows. */
const PATHS: Record<ModelKindName, (flags: TrainFlags, cmd: Command) => Promise<void>> = {
  image: trainImages,
  text: trainTexts,
  'multi-task': trainTasks,
  detection: trainDetection,
};

/** The flags a kind may not accept, by the trainer option each sets. */
const KIND_FLAGS: Record<TrainOption, keyof TrainFlags> = {
  cut: 'cut',
  head: 'head',
  scratch: 'scratch',
  headStart: 'headStart',
  perClass: 'perClass',
  classes: 'classes',
  where: 'where',
  stream: 'stream',
  strict: 'strict',
  engine: 'engine',
  tasks: 'task',
  weights: 'taskWeights',
  augment: 'augment',
  textColumn: 'textColumn',
  labelColumn: 'labelColumn',
};

type Kind = (typeof MODEL_KINDS)[number];

/**
 * Flags the chosen kind does not read would silently do nothing: a usage error naming the kinds
 * that read them. Image bases' preprocessing flags (--mean, --input-size, …) go with image kinds.
 */
function refuseOthers(cmd: Command, kind: Kind): void {
  const given = (flag: string) => cmd.getOptionValueSource(flag) === 'cli';
  const option = (Object.keys(KIND_FLAGS) as TrainOption[]).find((o) => !kind.training.accepts.includes(o) && given(KIND_FLAGS[o]));
  const baseFlag = kind.training.base === 'image' ? undefined : BASE_FLAG_KEYS.find((k) => k !== 'offline' && given(k));
  const readers = option
    ? MODEL_KINDS.filter((k) => k.training.accepts.includes(option))
    : MODEL_KINDS.filter((k) => k.training.base === 'image');
  const flag = option ? KIND_FLAGS[option] : baseFlag;
  if (flag)
    throw usageError(`${flagName(flag)} applies to ${readers.map((k) => k.training.title).join(', ')}, not to ${kind.training.title}`);
}

/** A budget flag's default as help shows it: the image classifier's, then any kind that differs. */
function defaultHelp(key: keyof TrainDefaults): string {
  const usual = MODEL_KINDS[0].training.defaults[key];
  const others = MODEL_KINDS.filter((k) => k.training.defaults[key] !== usual).map((k) => `${k.name} ${k.training.defaults[key]}`);
  return `default ${usual}${others.length ? `; ${others.join(', ')}` : ''}`;
}

const unfreezeArg = (v: string) => (v === 'auto' ? ('auto' as const) : intArg('--unfreeze (or auto)')(v));

export function trainCommand(): Command {
  return withBaseFlags(new Command('train'))
    .description('graft a new head on a base and fine-tune it on your data')
    .requiredOption(
      '--base <base>',
      'mobilenet_v2, inception_v3, digits-cnn, nanodet (a COCO detector trunk), a path/URL to a TF.js model.json, or onnx:PATH; for audio: speech-cnn; for text: use-lite or glove-100d',
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
    .option('--epochs <n>', `maximum epochs per stage (${defaultHelp('epochs')})`, intArg('--epochs', 1))
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
      `blocks below the cut fine-tuned in stage 2: a number (0: head only) or auto (tries 1 to ${UNFREEZE_AUTO_MAX}, keeps the best on validation) (${defaultHelp('unfreeze')})`,
      unfreezeArg,
    )
    .option('--batch-size <n>', `batch size (${defaultHelp('batchSize')})`, intArg('--batch-size', 1))
    .option('--lr <rate>', `learning rate of stage 1, stage 2 uses a tenth (${defaultHelp('learningRate')})`, numArg)
    .option('--patience <n>', `early-stopping patience in epochs (${defaultHelp('patience')})`, intArg('--patience', 1))
    .option('--seed <n>', 'random seed (splits, initialisation, shuffling)', intArg('--seed'), 0)
    .option('--classes <spec>', 'use only these classes (e.g. 5-9 for mnist, or a,b,c)', classesArg)
    .option('--where <column=values>', WHERE_HELP, collectWhere(), [])
    .option(
      '--scratch',
      'train the same architecture from freshly initialised weights (baseline); for text: TF-IDF logistic regression',
      false,
    )
    .option(
      '--head-start [pairs]',
      "detect on a detector base (nanodet): classes start from the base's own classifier: those named as one of its classes, or as given (pedestrian=person,auto=car)",
      headStartArg,
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
      // Before anything is loaded, on every path.
      checkOutputs({
        out: [{ path: flags.out, kind: 'dir', force: flags.force }],
        into: [cacheOutput(flags)],
      });
      const textBase = await isTextBaseFlag(flags);
      const kind = trainingKind({ head: flags.head, tasks: flags.task.length, textBase });
      if (kind.training.base === 'image' && textBase) throw usageError(`${kind.training.title} needs an image base, not ${flags.base}`);
      refuseOthers(cmd, kind);
      return PATHS[kind.name](flags, cmd);
    });
}
