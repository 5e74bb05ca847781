// `graft export`: a trained model as one ONNX file and FILE.json, written together or not at all.
import { Command, Option } from 'commander';
import { writeFilesAtomically } from '../../io/atomic.js';
import { loadModel, type TrainedModel } from '../../kinds/index.js';
import { checkOutputs, log, prepare, printJson, type GlobalOptions } from '../shared.js';

interface ExportFlags extends GlobalOptions {
  model: string;
  format: 'onnx';
  out: string;
  force: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('export a trained model to another format (ONNX: one file any ONNX runtime loads, plus FILE.json)')
    .requiredOption('--model <dir>', 'a directory written by graft train')
    .addOption(new Option('--format <format>', 'output format').choices(['onnx']).default('onnx'))
    .requiredOption('--out <file>', 'output file, e.g. model.onnx')
    .option('--force', 'overwrite --out if it exists', false)
    .action(async (flags: ExportFlags) => {
      const sidecarPath = `${flags.out}.json`;
      checkOutputs({
        out: [
          { path: flags.out, kind: 'file', force: flags.force },
          { path: sidecarPath, kind: 'file', force: flags.force, flag: '--out (its sidecar)' },
        ],
      });
      await prepare(flags);
      // Export needs no runtime: a model's frozen trunk is read from its file, not started.
      const model: TrainedModel = await loadModel(flags.model);
      try {
        const { bytes, sidecar, summary, json } = await model.export(flags.format);
        await writeFilesAtomically(
          [
            { path: flags.out, content: bytes },
            { path: sidecarPath, content: JSON.stringify(sidecar, null, 2) + '\n' },
          ],
          flags.force,
        );
        log(`wrote ${flags.out} (${(bytes.length / 1024).toFixed(0)} KiB; ${summary}) and ${sidecarPath}`);
        if (flags.json) printJson({ out: flags.out, sidecar: sidecarPath, bytes: bytes.length, ...json });
      } finally {
        await model.dispose();
      }
    });
}
