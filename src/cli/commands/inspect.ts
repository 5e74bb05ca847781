import { Command } from 'commander';
import { loadBase } from '../../bases/index.js';
import { describeBase } from '../../bases/describe.js';
import { baseOptions, withBaseFlags, type BaseFlags } from '../base-flags.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, printJson, table } from '../output.js';

export function inspectCommand(): Command {
  return withBaseFlags(new Command('inspect'))
    .description('show a base layer by layer: shapes, parameters, blocks and where it can be cut')
    .argument('<base>', 'mobilenet_v2, inception_v3, digits-cnn, a path/URL to a TF.js model.json, or onnx:PATH')
    .action(async (spec: string, flags: GlobalOptions & BaseFlags) => {
      await prepare(flags);
      const d = describeBase(await loadBase(spec, baseOptions(flags)));
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
