// The experiment every "does pre-training help with few labels?" table runs: for each number of
// labels per class and each seed, the base transferred and the same network from scratch, trained
// with the same budget on the same split; test accuracy and training seconds, averaged over seeds.
import type { TrainEngine } from '../engine/onnx-train.js';
import type { ImageBase } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import type { Splits } from '../data/types.js';
import { pct, table } from '../evaluate/report.js';
import { trainImageClassifier, type ImageClassifierOptions } from '../kinds/image.js';
import { mean } from '../math/stats.js';

export type LabelsPerClass = number | 'all';

interface Cell {
  accuracy: number;
  trainSeconds: number;
}

export interface CurveRow {
  labelsPerClass: LabelsPerClass;
  transfer: { accuracy: number; trainSeconds: number; runs: number[] };
  scratch: { accuracy: number; trainSeconds: number; runs: number[] };
}

export interface TransferCurve {
  base: ImageBase;
  labels: readonly LabelsPerClass[];
  seeds: readonly number[];
  /** The split a seed and a label count train on (the test set the same for every label count). */
  splits(n: LabelsPerClass, seed: number): Splits;
  /** Training options for a label count, the same for transfer and scratch (cut, unfreeze, budget). */
  options(n: LabelsPerClass): Partial<ImageClassifierOptions>;
  callbacks?: readonly Callback[];
  trainEngine?: TrainEngine;
}

export async function transferCurve(o: TransferCurve): Promise<CurveRow[]> {
  const rows: CurveRow[] = [];
  for (const n of o.labels) {
    const runs: Record<'transfer' | 'scratch', Cell[]> = { transfer: [], scratch: [] };
    for (const seed of o.seeds) {
      const splits = o.splits(n, seed);
      for (const setup of ['transfer', 'scratch'] as const) {
        tell(o.callbacks, 'onStep', `${setup}, ${n} labels per class, seed ${seed}`);
        const r = await trainImageClassifier({
          base: o.base,
          data: splits,
          scratch: setup === 'scratch',
          seed,
          ...o.options(n),
          trainEngine: o.trainEngine,
          callbacks: o.callbacks,
        });
        runs[setup].push({ accuracy: r.metrics.test.accuracy, trainSeconds: r.training.seconds });
        await r.model.dispose();
      }
    }
    const summary = (cells: Cell[]) => ({
      accuracy: mean(cells.map((c) => c.accuracy)),
      trainSeconds: mean(cells.map((c) => c.trainSeconds)),
      runs: cells.map((c) => c.accuracy),
    });
    rows.push({ labelsPerClass: n, transfer: summary(runs.transfer), scratch: summary(runs.scratch) });
  }
  return rows;
}

/** The curve as a Markdown table: accuracies, the gain in points, seconds. */
export const curveTable = (rows: readonly CurveRow[]): string =>
  table(
    ['labels per class', 'transfer accuracy', 'scratch accuracy', 'gain (points)', 'transfer s', 'scratch s'],
    rows.map((r) => [
      String(r.labelsPerClass),
      pct(r.transfer.accuracy),
      pct(r.scratch.accuracy),
      (100 * (r.transfer.accuracy - r.scratch.accuracy)).toFixed(1),
      r.transfer.trainSeconds.toFixed(1),
      r.scratch.trainSeconds.toFixed(1),
    ]),
  );
