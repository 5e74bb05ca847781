// `graft predict`: any trained model's answers for inputs (image files, or texts for a text model).
import { Command } from 'commander';
import { loadModel, type TrainedModel } from '../../kinds/index.js';
import { intArg, log, prepare, printJson, type GlobalOptions } from '../shared.js';

type Flags = GlobalOptions & { model: string; top: number };

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify image files (or, with a text model, texts) with a trained model')
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .option('--top <k>', 'how many classes to show per input', intArg('--top', 1), 3)
    .argument('<inputs...>', 'image files; for a text model, the texts themselves')
    .action(async (inputs: string[], flags: Flags) => {
      await prepare(flags);
      const model: TrainedModel = await loadModel(flags.model);
      try {
        const predictions = await model.predict(inputs, { top: flags.top });
        for (const p of predictions) for (const line of model.formatPrediction(p)) log(line);
        if (flags.json) printJson({ model: flags.model, predictions });
      } finally {
        await model.dispose();
      }
    });
}
