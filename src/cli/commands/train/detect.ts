// `graft train --head detect`: a detector on boxes (COCO JSON, Pascal VOC, YOLO), its stages and
// COCO AP shown, saved. The budget defaults are detection's where the user gave none.
import type { Command } from 'commander';
import { loadLayersBase } from '../../../bases/index.js';
import { usageError } from '../../../core/errors.js';
import type { DetectionMetrics } from '../../../evaluate/detection.js';
import { trainDetector } from '../../../kinds/detection.js';
import { DETECTION_DEFAULTS } from '../../../train/detection.js';
import { baseOptions, log, logTrainEngines, prepare, printJson, Progress, refuseFlags, table, Warnings } from '../../shared.js';
import { imageTraining, type TrainFlags } from './flags.js';

/** Flags of classification that mean nothing for boxes. */
const NOT_FOR_DETECTION = ['perClass', 'classes', 'stream', 'textColumn', 'labelColumn', 'task', 'taskWeights'] as const;

export async function trainDetection(flags: TrainFlags, cmd: Command): Promise<void> {
  refuseFlags(cmd, NOT_FOR_DETECTION, 'to classification, not to --head detect');
  if (flags.unfreeze === 'auto') throw usageError('--unfreeze auto is not available for --head detect yet: give a number of blocks');
  await prepare(flags);
  // --input-size is the detector's input here, not a size an ONNX base leaves open.
  const base = await loadLayersBase(flags.base, baseOptions({ ...flags, inputSize: undefined }));
  // commander fills in classification's defaults: detection's replace those the user did not set.
  const given = (key: keyof TrainFlags) => cmd.getOptionValueSource(key) !== 'default';
  const training = imageTraining(flags);
  const warnings = new Warnings();
  const progress = new Progress();
  const result = await trainDetector({
    base,
    data: flags.data,
    cut: flags.cut,
    inputSize: flags.inputSize,
    scratch: flags.scratch,
    augment: flags.augment,
    ...training,
    epochs: given('epochs') ? flags.epochs : DETECTION_DEFAULTS.epochs,
    batchSize: given('batchSize') ? flags.batchSize : DETECTION_DEFAULTS.batchSize,
    patience: given('patience') ? flags.patience : DETECTION_DEFAULTS.patience,
    unfreeze: given('unfreeze') ? (flags.unfreeze as number) : DETECTION_DEFAULTS.unfreeze,
    callbacks: [progress, warnings],
  });
  progress.stop();
  warnings.report();
  const { model, metrics, counts } = result;
  const g = model.grafted!;
  await model.save(flags.out, { force: flags.force });
  log(
    `base ${base.name}, detection head at ${g.cut} (stride ${g.stride}, input ${g.input.height}x${g.input.width})${g.scratch ? ' (scratch)' : ''}; ${counts.train} train / ${counts.val} val / ${counts.test} test images, ${g.classes.length} class${g.classes.length === 1 ? '' : 'es'}`,
  );
  log(
    table(
      [
        'stage',
        'trainable from',
        'frozen part on',
        'trains on',
        'features computed',
        'cached',
        'feature s',
        'epochs',
        'best epoch',
        'val AP50',
        'val loss',
        'train s',
      ],
      result.training.stages.map((s) => [
        s.blocks === undefined ? s.stage : `${s.stage} (${s.blocks} block${s.blocks === 1 ? '' : 's'})`,
        s.trainableFrom,
        s.engine,
        s.trainEngine.engine,
        s.features.computed,
        s.features.cached,
        s.featureSeconds.toFixed(1),
        s.epochsRun,
        s.bestEpoch,
        s.bestValAP50.toFixed(3),
        s.bestValLoss.toFixed(4),
        s.seconds.toFixed(1),
      ]),
    ),
  );
  logTrainEngines(result.training.stages.map((s) => ({ name: s.stage, trainEngine: s.trainEngine })));
  const row = (split: string, m: DetectionMetrics) => [split, m.images, m.objects, m.ap.toFixed(3), m.ap50.toFixed(3), m.ap75.toFixed(3)];
  log(table(['split', 'images', 'objects', 'AP', 'AP50', 'AP75'], [row('val', metrics.val), row('test', metrics.test)]));
  log(`saved to ${flags.out}`);
  if (flags.json) {
    const summary = (m: DetectionMetrics) => ({ ap: m.ap, ap50: m.ap50, ap75: m.ap75, perClass: m.perClass });
    printJson({
      out: flags.out,
      kind: 'detection',
      classes: g.classes,
      cut: g.cut,
      stride: g.stride,
      input: g.input,
      scratch: g.scratch,
      unfreeze: result.training.unfreeze,
      counts,
      metrics: { val: summary(metrics.val), test: summary(metrics.test) },
      stages: result.training.stages,
      seconds: result.training.seconds,
    });
  }
}
