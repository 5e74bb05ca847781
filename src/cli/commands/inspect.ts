// `graft inspect`: a base layer by layer (where it can be cut), or a trained model's directory
// (its kind, input and outputs).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describeBase } from '../../bases/describe.js';
import { loadBase } from '../../bases/index.js';
import type { TrainedModel } from '../../kinds/index.js';
import { baseOptions, log, prepare, printJson, table, withBaseFlags, type BaseFlags, type GlobalOptions } from '../shared.js';

async function inspectModel(dir: string, flags: GlobalOptions): Promise<void> {
  // Every kind's loader, imported only for a model directory (a base needs none of them).
  const { loadModel } = await import('../../kinds/index.js');
  const model: TrainedModel = await loadModel(dir);
  try {
    const d = model.describe();
    const input =
      d.input.type === 'image'
        ? `images ${d.input.height}x${d.input.width}x${d.input.channels} (${d.input.resize})`
        : d.input.type === 'audio'
          ? `recordings at ${d.input.sampleRate} Hz, ${d.input.seconds} s clips as ${d.input.heard === 'samples' ? `${d.input.samples} mu-law samples` : `${d.input.frames}x${d.input.mels} ${d.input.heard === 'log-mel' ? 'log-mel spectrograms' : "mel frames of the base's front-end model"}`}`
          : 'texts';
    log(`${dir}: ${d.kind} model on ${d.base}, ${d.summary}; input ${input}`);
    log(
      table(
        ['output', 'kind', 'labels'],
        d.outputs.map((o) => [o.name, o.kind, o.labels?.join(', ') ?? `${o.units} numbers`]),
      ),
    );
    if (flags.json) printJson(d);
  } finally {
    await model.dispose();
  }
}

export function inspectCommand(): Command {
  return withBaseFlags(new Command('inspect'))
    .description('show a base layer by layer (shapes, parameters, blocks, where it can be cut), or what a trained model directory holds')
    .argument(
      '<base>',
      'mobilenet_v2, inception_v3, digits-cnn, nanodet, speech-cnn, use-lite, glove-100d, a path/URL to a TF.js model.json, onnx:PATH, hf:ORG/NAME (or a folder in its layout), or a trained model directory',
    )
    .action(async (spec: string, flags: GlobalOptions & BaseFlags) => {
      await prepare(flags);
      if (existsSync(join(spec, 'graft.json'))) return inspectModel(spec, flags);
      const options = baseOptions(flags); // before loadBase: --offline is read there
      const d = describeBase(await loadBase(spec, options));
      if (d.kind === 'text') {
        log(`${d.name}: text base, ${d.dim}-d vectors, texts up to ${d.maxTokens} tokens`);
        log(d.provenance);
        if (d.cuts) {
          log(
            table(
              ['#', 'cut', ''],
              d.cuts.map((c, i) => [i, c, c === d.suggestedCut ? 'auto' : '']),
            ),
          );
          log('cut: TENSOR:cls = its first token, TENSOR:mean = the mean of its tokens (padding left out); auto = the default (--cut)');
        }
        if (flags.json) printJson(d);
        return;
      }
      log(
        `${d.name}: ${d.kind} model, input ${d.input.height}x${d.input.width}x${d.input.channels}, ${d.params.toLocaleString('en')} parameters`,
      );
      log(d.provenance);
      log(
        table(
          ['#', 'name', 'type', 'output shape', 'params', 'trainable', 'block', 'cut'],
          d.layers.map((l) => [
            l.index,
            l.name,
            l.type,
            JSON.stringify(l.outputShape).replace(/null/g, 'N'),
            l.params,
            l.trainable ? 'yes' : 'no',
            l.block,
            l.suggestedCut ? 'auto' : l.cutCandidate ? '*' : '',
          ]),
        ),
      );
      log(`cut: * = cut candidate (everything above depends on this layer's output alone); auto = the suggested cut (${d.suggestedCut})`);
      if (flags.json) printJson(d);
    });
}
