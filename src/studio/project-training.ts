// What one studio training run does, start to end: the project's samples read, the one-call
// trainer of its kind, the mistakes gathered, the model and its report saved. It runs in the
// training worker (train-worker.ts), so nothing here may touch the server's state: it reports
// through `callbacks` and learns of Cancel through `isCancelled`.
import { basename, join } from 'node:path';
import { loadImageBase } from '../bases/index.js';
import type { Callback, EpochLogs } from '../core/callbacks.js';
import { loadDataSplits } from '../data/index.js';
import type { Metrics } from '../evaluate/metrics.js';
import { writeFileAtomically } from '../io/atomic.js';
import { trainImageClassifier } from '../kinds/image.js';
import { trainTextClassifier } from '../kinds/text.js';
import { trainDetector } from '../kinds/detection.js';
import {
  DRAWN_DIR,
  REPORT_FILE,
  type ClassificationReport,
  type DetectionReport,
  type TrainEvent,
  type TrainReport,
  type TrainSettings,
} from './run-types.js';
import type { Workspace } from './workspace.js';

/**
 * The score a found box needs to be drawn on the report's validation images: lower than a
 * prediction's default (0.3), since a detector trained on a few dozen images is often right
 * with little confidence at first, and the person should see where it looks.
 */
const DRAWN_THRESHOLD = 0.1;

/** Thrown at the first check after Cancel: the run ends and saves nothing. */
export class Cancelled extends Error {}

/** The callback a run trains with: events out, and the cancel check after every batch. */
export function runCallback(emit: (e: TrainEvent) => void, isCancelled: () => boolean): Callback {
  const check = () => {
    if (isCancelled()) throw new Cancelled('cancelled');
  };
  return {
    onBatchEnd: check,
    onEpochBegin: check,
    onStep: (message: string) => emit({ type: 'step', message }),
    onStageBegin: (stage: string) => {
      check();
      emit({ type: 'step', message: `stage: ${stage}` });
    },
    onEpochEnd: (logs: EpochLogs) =>
      emit({ type: 'epoch', stage: logs.stage, epoch: logs.epoch, epochs: logs.epochs, loss: logs.loss, metrics: logs.metrics }),
  };
}

/** Trains project `id` with `s`, saves the model and its report, and returns the report. */
export async function trainProject(
  workspace: Workspace,
  id: string,
  s: TrainSettings,
  emit: (e: TrainEvent) => void,
  isCancelled: () => boolean,
): Promise<TrainReport> {
  const t0 = performance.now();
  const project = await workspace.read(id);
  const budget = { epochs: s.epochs, learningRate: s.learningRate, seed: 0 };
  const callbacks = [runCallback(emit, isCancelled)];
  /** A finished run's model saved and its report written beside it, unless Cancel came during the last batch. */
  const keep = async (
    r: {
      model: { save(dir: string, o: { force: boolean }): Promise<void> };
      counts: TrainReport['counts'];
      metrics: { val: Metrics; test: Metrics };
    },
    about: Pick<ClassificationReport, 'base' | 'classes' | 'mistakes' | 'negativeTransfer'>,
  ): Promise<ClassificationReport> => {
    if (isCancelled()) throw new Cancelled('cancelled');
    await r.model.save(workspace.modelDir(id), { force: true });
    const report: ClassificationReport = {
      kind: 'classification',
      ...about,
      counts: r.counts,
      val: r.metrics.val,
      test: r.metrics.test,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomically(join(workspace.modelDir(id), REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
    return report;
  };
  if (project.kind === 'detection') {
    const r = await trainDetector({ base: s.base, data: workspace.annotationsPath(id), unfreeze: s.unfreeze ?? 0, ...budget, callbacks });
    try {
      if (isCancelled()) throw new Cancelled('cancelled');
      await r.model.save(workspace.modelDir(id), { force: true });
      // The validation images drawn: what is there (dashed) and what the detector found.
      emit({ type: 'step', message: 'drawing the validation images' });
      const val = await r.model.evaluate(workspace.annotationsPath(id), { split: 'val', seed: 0 });
      const drawn = await r.model.drawEvaluation(val, join(workspace.modelDir(id), DRAWN_DIR), DRAWN_THRESHOLD, { force: true });
      const summary = (m: { ap: number; ap50: number; ap75: number }) => ({ ap: m.ap, ap50: m.ap50, ap75: m.ap75 });
      const report: DetectionReport = {
        kind: 'detection',
        base: s.base,
        classes: r.model.meta.labels,
        counts: r.counts,
        val: summary(r.metrics.val),
        test: summary(r.metrics.test),
        drawn: drawn.map((f) => basename(f)),
        drawnThreshold: DRAWN_THRESHOLD,
        seconds: (performance.now() - t0) / 1000,
      };
      await writeFileAtomically(join(workspace.modelDir(id), REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
      return report;
    } finally {
      await r.model.dispose();
    }
  }
  if (project.kind === 'text') {
    const r = await trainTextClassifier({ base: s.base, data: workspace.textsTable(id), perClass: s.perClass, ...budget, callbacks });
    try {
      return await keep(r, { base: s.base, classes: r.model.classes, mistakes: [] });
    } finally {
      await r.model.dispose();
    }
  }
  const base = await loadImageBase(s.base);
  emit({ type: 'step', message: 'reading images' });
  const splits = await loadDataSplits(workspace.samplesDir(id), {
    size: base.input,
    resize: base.resize,
    medium: base.medium,
    classes: project.classes,
    seed: 0,
    perClass: s.perClass,
  });
  const r = await trainImageClassifier({ base, data: splits, unfreeze: s.unfreeze ?? 0, ...budget, callbacks });
  try {
    const val = splits.val;
    const predictions = await r.model.predict(val.ids, { top: 1 });
    const mistakes = predictions.flatMap((p, i) => {
      const truth = val.classes[val.labels[i]];
      const top = p.top[0];
      return top.label === truth
        ? []
        : [{ sample: `${truth}/${basename(val.ids[i])}`, truth, predicted: top.label, probability: top.probability }];
    });
    const check = r.cutChoice?.check;
    const negativeTransfer = check?.negative
      ? `${s.base}'s features at ${check.cut} barely beat the raw pixels (linear probe ${(check.probe * 100).toFixed(1)}% vs ${(check.pixelsProbe * 100).toFixed(1)}%): this base may not suit these images`
      : undefined;
    return await keep(r, { base: s.base, classes: r.model.meta.labels, mistakes, negativeTransfer });
  } finally {
    await r.model.dispose();
  }
}
