// `graft train --head detect`: a detector on boxes (COCO JSON, Pascal VOC, YOLO), its stages and
// COCO AP shown, saved. Budget flags left unset keep detection's defaults (the trainer's).
import { loadImageBase } from '../../../bases/index.js';
import type { DetectionMetrics } from '../../../evaluate/detection.js';
import { detectionKind } from '../../../kinds/detection.js';
import { baseOptions, log, prepare, printJson, Progress, table, Warnings } from '../../shared.js';
import { imageTraining, logStages, type TrainFlags } from './flags.js';

export async function trainDetection(flags: TrainFlags): Promise<void> {
  await prepare(flags);
  // --input-size is the detector's input here, not a size an ONNX base leaves open (a frozen
  // base's detector takes the base's own size: another is a usage error from graftDetector).
  const base = await loadImageBase(flags.base, baseOptions({ ...flags, inputSize: undefined }));
  const training = imageTraining(flags);
  const warnings = new Warnings();
  const progress = new Progress();
  const result = await detectionKind.training.train({
    base,
    data: flags.data,
    cut: flags.cut,
    inputSize: flags.inputSize,
    scratch: flags.scratch,
    headStart: flags.headStart === true ? 'matching' : flags.headStart,
    augment: flags.augment,
    ...training,
    callbacks: [progress, warnings],
  });
  progress.stop();
  warnings.report();
  const { model, metrics, counts } = result;
  const g = model.grafted!;
  await model.save(flags.out, { force: flags.force });
  log(
    `base ${base.name}, detection head at ${g.cut} (stride ${g.stride}, input ${g.input.height}x${g.input.width})${g.scratch ? ' (scratch)' : ''}${g.trunk ? ' (frozen trunk: head only)' : ''}; ${counts.train} train / ${counts.val} val / ${counts.test} test images, ${g.classes.length} class${g.classes.length === 1 ? '' : 'es'}`,
  );
  logStages(result.training.stages, {
    extra: [
      { header: 'val AP50', cell: (s) => s.metrics.valAP50.toFixed(3) },
      { header: 'val AP', cell: (s) => s.metrics.valAP.toFixed(3) },
    ],
    auto: flags.unfreeze === 'auto' && !g.scratch ? result.training : undefined,
  });
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
      // bestValAP and bestValAP50 as the JSON had them before stages carried a metrics record.
      stages: result.training.stages.map((s) => ({ ...s, bestValAP: s.metrics.valAP, bestValAP50: s.metrics.valAP50 })),
      seconds: result.training.seconds,
    });
  }
}
