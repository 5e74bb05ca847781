import { Command } from 'commander';
import { loadTrained } from '../../export/trained.js';
import { predictFiles } from '../../evaluate/predict.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson } from '../output.js';
import { intArg } from '../args.js';

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify image files with a trained model')
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .option('--top <k>', 'how many classes to show per image', intArg('--top', 1), 3)
    .argument('<files...>', 'image files')
    .action(async (files: string[], flags: GlobalOptions & { model: string; top: number }) => {
      await prepare(flags);
      const trained = await loadTrained(flags.model);
      const predictions = await predictFiles(trained, files, flags.top);
      for (const p of predictions) log(`${p.file}: ${p.top.map((t) => `${t.label} ${pct(t.probability)}`).join(', ')}`);
      if (flags.json) printJson({ model: flags.model, predictions });
    });
}
