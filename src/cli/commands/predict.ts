// `graft predict`: any trained model's answers for inputs (image files, or texts for a text model);
// a detector's boxes can be drawn on the images.
import { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import type { DetectionPrediction } from '../../kinds/detection.js';
import { loadModel, type TrainedModel } from '../../kinds/index.js';
import { checkOutputs, intArg, log, note, prepare, printJson, type GlobalOptions } from '../shared.js';

type Flags = GlobalOptions & { model: string; top: number; threshold?: number; draw?: string; force: boolean };

/** A detector's score threshold, checked as the flag is read (before the model loads): 0 shows every box the decoder keeps. */
const scoreArg = (v: string) => {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!(n >= 0 && n <= 1)) throw usageError(`--threshold must be a score in [0, 1], got ${v}`);
  return n;
};

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify image files (or, with a text model, texts), or find objects in them, with a trained model')
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .option('--top <k>', 'how many classes to show per input', intArg('--top', 1), 3)
    .option('--threshold <score>', "detectors: the lowest score shown, 0 to 1 (default: the model's, 0.3)", scoreArg)
    .option('--draw <dir>', 'detectors: write each image with its boxes drawn into DIR (new or empty, unless --force)')
    .option('--force', '--draw: write into a DIR that holds files, replacing those of the same names', false)
    .argument('<inputs...>', 'image files; for a text model, the texts themselves')
    .action(async (inputs: string[], flags: Flags) => {
      checkOutputs({ filled: [{ path: flags.draw, flag: '--draw', force: flags.force }] });
      await prepare(flags);
      const loaded = await loadModel(flags.model);
      const model: TrainedModel = loaded;
      try {
        if (model.kind !== 'detection' && (flags.draw !== undefined || flags.threshold !== undefined))
          throw usageError(`--threshold and --draw apply to detectors, not to ${flags.model} (a ${model.kind} model)`);
        const predictions = await model.predict(inputs, { top: flags.top, threshold: flags.threshold });
        for (const p of predictions) for (const line of model.formatPrediction(p)) log(line);
        if (loaded.kind === 'detection' && flags.draw) {
          const written = await loaded.drawPredictions(predictions as DetectionPrediction[], flags.draw, { force: flags.force });
          note(`drew ${written.length} image${written.length === 1 ? '' : 's'} into ${flags.draw}`);
        }
        if (flags.json) printJson({ model: flags.model, predictions });
      } finally {
        await model.dispose();
      }
    });
}
