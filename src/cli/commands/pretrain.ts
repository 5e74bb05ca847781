// `graft pretrain NAME`: reproduce an embedded base from data graft builds offline.
import { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import { PRETRAININGS } from '../../pretrain/index.js';
import { checkOutputs, intArg, log, pct, prepare, printJson, Progress, type GlobalOptions } from '../shared.js';

export function pretrainCommand(): Command {
  const names = Object.keys(PRETRAININGS);
  return new Command('pretrain')
    .description(`reproduce an embedded base: ${names.map((n) => `"${n}" trains ${PRETRAININGS[n].description}`).join('; ')}`)
    .argument('<name>', names.join(', '))
    .option('--out <dir>', 'where to write the model (default: where the base registry loads it from)')
    .option('--epochs <n>', "maximum epochs (default: the pre-training's own, as its base was trained)", intArg('--epochs', 1))
    .option('--seed <n>', 'random seed', intArg('--seed'), 0)
    .option('--force', 'overwrite --out if it exists', false)
    .action(async (name: string, flags: GlobalOptions & { out?: string; epochs?: number; seed: number; force: boolean }) => {
      // Own names only: `toString` is no pretraining, not Object's.
      const pretraining = Object.hasOwn(PRETRAININGS, name) ? PRETRAININGS[name] : undefined;
      if (!pretraining) throw usageError(`unknown pretraining "${name}" (known: ${names.join(', ')})`);
      const out = flags.out ?? pretraining.dir;
      checkOutputs({ out: [{ path: out, kind: 'dir', force: flags.force }] });
      await prepare(flags);
      const progress = new Progress();
      const r = await pretraining.run({ seed: flags.seed, epochs: flags.epochs, callbacks: [progress] });
      progress.stop();
      await r.save(out, flags.force);
      log(`${r.summary} in ${r.seconds.toFixed(1)} s: test accuracy ${pct(r.testAccuracy)}; saved to ${out}`);
      if (flags.json) printJson({ out, testAccuracy: r.testAccuracy, epochs: r.epochs, seconds: r.seconds });
    });
}
