// `graft adapt`: a labelled source domain, a target domain with few or no labels, one method (and
// source-only training beside it). Images or texts: this folder's other modules.
import { embeddedBase } from '../../../bases/index.js';
import { Command, Option } from 'commander';
import { usageError } from '../../../core/errors.js';
import { ENGINES } from '../../../engine/frozen.js';
import { ADAPT_METHODS } from '../../../strategies/adapt/methods/index.js';
import {
  BASE_FLAG_KEYS,
  cacheOutput,
  checkOutputs,
  collectWhere,
  intArg,
  isTextBaseFlag,
  prepare,
  refuseFlags,
  refuseImageFlags,
  WHERE_HELP,
  withBaseFlags,
} from '../../shared.js';
import type { AdaptFlags } from './flags.js';
import { adaptImages } from './images.js';
import { adaptTexts } from './texts.js';

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
    .option('--source-where <column=values>', `--source's rows: ${WHERE_HELP}`, collectWhere('--source-where'), [])
    .option('--target-where <column=values>', `--target's rows: ${WHERE_HELP}`, collectWhere('--target-where'), [])
    .option('--eval-where <column=values>', `--eval-target's rows: ${WHERE_HELP}`, collectWhere('--eval-where'), [])
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
      // adapt writes no model, only its feature cache.
      checkOutputs({ into: [cacheOutput(flags)] });
      if (flags.evalWhere.length && !flags.evalTarget) throw usageError('--eval-where selects rows of --eval-target, which is not given');
      // Only DANN has an adversary: with another method the flag would do nothing.
      if (flags.method !== 'dann') refuseFlags(cmd, ['adversary'], `to --method dann, not to ${flags.method}`);
      if (await isTextBaseFlag(flags)) {
        const cut = embeddedBase(flags.base) ? ['cut'] : []; // a Hub text model's outputs and poolings are its cuts
        refuseImageFlags(cmd, [...cut, 'trunk', 'engine', ...BASE_FLAG_KEYS.filter((k) => k !== 'offline')]);
        await prepare(flags);
        return adaptTexts(flags);
      }
      if (flags.textColumn || flags.labelColumn)
        throw usageError(`--text-column and --label-column apply to text bases (use-lite, glove-100d), not to ${flags.base}`);
      await prepare(flags);
      return adaptImages(flags);
    });
}
