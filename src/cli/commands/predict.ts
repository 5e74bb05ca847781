import { Command } from 'commander';
import { loadTrained } from '../../export/trained.js';
import { isTextModel, loadTextClassifier } from '../../export/text.js';
import { predictFiles, predictTaskFiles, topK } from '../../evaluate/predict.js';
import { isTasksModel, loadTasks } from '../../export/multitask.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, pct, printJson } from '../output.js';
import { intArg } from '../args.js';

type Flags = GlobalOptions & { model: string; top: number };

/** A text model's answers: each argument is one text. */
async function predictTexts(texts: string[], flags: Flags): Promise<void> {
  const { classifier } = await loadTextClassifier(flags.model);
  try {
    const probs = await classifier.predict(texts);
    const k = classifier.classes.length;
    const predictions = texts.map((text, i) => ({ text, top: topK(probs.subarray(i * k, (i + 1) * k), classifier.classes, flags.top) }));
    for (const p of predictions)
      log(
        `${JSON.stringify(p.text.length > 60 ? `${p.text.slice(0, 57)}...` : p.text)}: ${p.top.map((t) => `${t.label} ${pct(t.probability)}`).join(', ')}`,
      );
    if (flags.json) printJson({ model: flags.model, predictions });
  } finally {
    classifier.dispose();
  }
}

/** A multi-task model's answers: every task's, per image. */
async function predictTasks(files: string[], flags: Flags): Promise<void> {
  const model = await loadTasks(flags.model);
  try {
    const predictions = await predictTaskFiles(model, files, flags.top);
    const pad = Math.max(...model.tasks.map((t) => t.name.length));
    for (const p of predictions) {
      log(`${p.file}:`);
      for (const [name, a] of Object.entries(p.tasks)) {
        const shown =
          a.kind === 'classification'
            ? a.top.map((t) => `${t.label} ${pct(t.probability)}`).join(', ')
            : a.kind === 'multi-label'
              ? a.labels.map((l) => `${l} ${pct(a.probabilities[l])}`).join(', ') || 'none'
              : a.values.map((v) => v.toPrecision(4)).join(', ');
        log(`  ${name.padEnd(pad)}  ${shown}`);
      }
    }
    if (flags.json) printJson({ model: flags.model, predictions });
  } finally {
    model.model.dispose();
  }
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('classify image files (or, with a text model, texts) with a trained model')
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .option('--top <k>', 'how many classes to show per input', intArg('--top', 1), 3)
    .argument('<inputs...>', 'image files; for a text model, the texts themselves')
    .action(async (inputs: string[], flags: Flags) => {
      await prepare(flags);
      if (await isTextModel(flags.model)) return predictTexts(inputs, flags);
      if (await isTasksModel(flags.model)) return predictTasks(inputs, flags);
      const trained = await loadTrained(flags.model);
      const predictions = await predictFiles(trained, inputs, flags.top);
      for (const p of predictions) log(`${p.file}: ${p.top.map((t) => `${t.label} ${pct(t.probability)}`).join(', ')}`);
      if (flags.json) printJson({ model: flags.model, predictions });
    });
}
