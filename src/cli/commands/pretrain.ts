import { Command } from 'commander';
import { DIGITS_CNN_DIR, pretrainDigitsCnn, saveDigitsCnn } from '../../bases/digits-cnn.js';
import { usageError } from '../../errors.js';
import { assertWritable } from '../../io/atomic.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson, Progress } from '../output.js';
import { intArg } from '../args.js';

export function pretrainCommand(): Command {
  return new Command('pretrain')
    .description('reproduce an embedded base: "digits" trains digits-cnn on MNIST digits 0-4')
    .argument('<name>', 'digits')
    .option('--out <dir>', 'where to write the model', DIGITS_CNN_DIR)
    .option('--epochs <n>', 'maximum epochs', intArg('--epochs', 1), 12)
    .option('--seed <n>', 'random seed', intArg('--seed'), 0)
    .option('--force', 'overwrite --out if it exists', false)
    .action(async (name: string, flags: GlobalOptions & { out: string; epochs: number; seed: number; force: boolean }) => {
      if (name !== 'digits') throw usageError(`unknown pretraining "${name}" (known: digits)`);
      assertWritable(flags.out, flags.force);
      await prepare(flags);
      const progress = new Progress();
      const r = await pretrainDigitsCnn({ seed: flags.seed, epochs: flags.epochs, onEpoch: (e) => progress.epoch(e) });
      progress.stop();
      await saveDigitsCnn(r.base.model!, flags.out, flags.force);
      log(
        `digits-cnn trained on MNIST 0-4 in ${r.seconds.toFixed(1)} s (${r.epochsRun} epochs): test accuracy ${pct(r.testAccuracy)}; saved to ${flags.out}`,
      );
      if (flags.json) printJson({ out: flags.out, testAccuracy: r.testAccuracy, epochs: r.epochsRun, seconds: r.seconds });
    });
}
