// `graft train` on images, one task: the image kind's trainer, its stages and metrics shown, saved.
import { loadImageBase } from '../../../bases/index.js';
import { parseClassFilter } from '../../../data/index.js';
import { parseHead } from '../../../graft/head.js';
import { imageKind } from '../../../kinds/image.js';
import { baseOptions, log, pct, prepare, printJson, Progress, warn, Warnings } from '../../shared.js';
import { imageTraining, logStages, metricsTable, type TrainFlags } from './flags.js';

export async function trainImages(flags: TrainFlags): Promise<void> {
  await prepare(flags);
  const base = await loadImageBase(flags.base, baseOptions(flags));
  const warnings = new Warnings();
  const progress = new Progress();
  const result = await imageKind.training.train({
    base,
    data: flags.data,
    cut: flags.cut,
    head: flags.head ? parseHead(flags.head, base.head) : undefined,
    scratch: flags.scratch,
    perClass: flags.perClass,
    classes: flags.classes ? parseClassFilter(flags.classes) : undefined,
    stream: flags.stream,
    where: flags.where,
    ...imageTraining(flags),
    callbacks: [progress, warnings],
  });
  progress.stop();
  warnings.report();
  const { model, metrics, training, counts, cutChoice } = result;
  const g = model.grafted!;
  await model.save(flags.out, { force: flags.force });
  log(
    `base ${base.name}, cut at ${g.cut}${g.scratch ? ' (scratch)' : ''}; ${counts.train} train / ${counts.val} val / ${counts.test} test images, ${g.classes.length} classes`,
  );
  if (cutChoice) {
    const usual = cutChoice.ranking.find((r) => r.cut === cutChoice.suggested);
    const check = cutChoice.check;
    if (check?.negative) {
      warn(
        `${base.name} barely helps on this data: a linear probe on its features at ${check.cut} reaches ${pct(check.probe)}, on the images' own pixels ${pct(check.pixelsProbe)} (try another base: graft rank --base A --base B)`,
      );
    }
    const usualNote = usual && usual.cut !== cutChoice.cut ? `; the base's usual cut ${usual.cut} scores ${usual.logme.toFixed(4)}` : '';
    log(
      `cut auto: ${cutChoice.cut} has the highest LogME (${cutChoice.ranking[0].logme.toFixed(4)}) of ${cutChoice.ranking.length} block outputs on the training images${usualNote} (graft rank shows them all; --cut LAYER overrides)`,
    );
  }
  logStages(training.stages, { auto: flags.unfreeze === 'auto' && !g.scratch ? training : undefined });
  log(metricsTable(metrics));
  log(`saved to ${flags.out}`);
  if (flags.json) {
    const summary = (m: typeof metrics.val) => ({ accuracy: m.accuracy, macroF1: m.macroF1 });
    const stages = training.stages.map((s) => ({
      stage: s.stage,
      blocks: s.blocks,
      kept: s.kept,
      bestValLoss: s.bestValLoss,
      engine: s.engine,
      trainEngine: s.trainEngine,
      features: s.features,
      featureSeconds: s.featureSeconds,
      seconds: s.seconds,
    }));
    const cutAuto = cutChoice && {
      by: cutChoice.by,
      suggested: cutChoice.suggested,
      ranking: cutChoice.ranking.map((r) => ({ cut: r.cut, logme: r.logme })),
      check: cutChoice.check,
    };
    printJson({
      out: flags.out,
      classes: g.classes,
      cut: g.cut,
      cutAuto,
      unfreeze: training.unfreeze,
      scratch: g.scratch,
      metrics: { val: summary(metrics.val), test: summary(metrics.test) },
      stages,
      seconds: training.seconds,
    });
  }
}
