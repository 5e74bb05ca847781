import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { usageError } from '../../errors.js';
import { isTasksModel } from '../../export/multitask.js';
import { loadTrained } from '../../export/trained.js';
import { trainedToOnnx } from '../../export/trained-onnx.js';
import { assertWritable, writeFilesAtomically } from '../../io/atomic.js';
import { prepare, type GlobalOptions } from '../main.js';
import { log, printJson } from '../output.js';

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
      assertWritable(flags.out, flags.force);
      assertWritable(sidecarPath, flags.force);
      if (await isTasksModel(flags.model))
        throw usageError(
          `${flags.model} is a multi-task model: its model.json (one output per task) is already the export; ONNX export is for single-task models`,
        );
      await prepare(flags);
      const trained = await loadTrained(flags.model, { trunk: false });
      const trunkBytes = trained.meta.trunk?.path.endsWith('.onnx')
        ? new Uint8Array(await readFile(join(flags.model, trained.meta.trunk.path)))
        : undefined;
      const { bytes, sidecar } = trainedToOnnx(trained, trunkBytes);
      await writeFilesAtomically(
        [
          { path: flags.out, content: bytes },
          { path: sidecarPath, content: JSON.stringify(sidecar, null, 2) + '\n' },
        ],
        flags.force,
      );
      log(
        `wrote ${flags.out} (${(bytes.length / 1024).toFixed(0)} KiB; input ${sidecar.input.name} ${sidecar.input.layout.toUpperCase()} ${sidecar.input.height}x${sidecar.input.width}x${sidecar.input.channels}, output ${sidecar.output}: ${sidecar.labels.length} class probabilities) and ${sidecarPath}`,
      );
      if (flags.json)
        printJson({
          out: flags.out,
          sidecar: sidecarPath,
          bytes: bytes.length,
          input: sidecar.input,
          output: sidecar.output,
          labels: sidecar.labels,
        });
    });
}
