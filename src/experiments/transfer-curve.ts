// The experiment every "does pre-training help with few labels?" table runs: for each number of
// labels per class and each seed, the base transferred and the same network from scratch, trained
// with the same budget on the same split; test accuracy and training seconds, averaged over seeds.
import type { TrainEngine } from '../engine/onnx-train.js';
import type { ImageBase } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import type { Splits } from '../data/types.js';
import { pct, table } from '../evaluate/report.js';
import { trainImageClassifier, type ImageClassifierOptions } from '../kinds/image.js';
import { mean, pairedDifference, type PairedDifference } from '../math/stats.js';

export type LabelsPerClass = number | 'all';

interface Cell {
  accuracy: number;
  trainSeconds: number;
}

export interface CurveRow {
  labelsPerClass: LabelsPerClass;
  transfer: { accuracy: number; trainSeconds: number; runs: number[] };
  scratch: { accuracy: number; trainSeconds: number; runs: number[] };
  /** Transfer minus scratch accuracy, seed by seed (each seed trains both on the same split). */
  gain: PairedDifference;
}

export interface TransferCurve {
  base: ImageBase;
  labels: readonly LabelsPerClass[];
  seeds: readonly number[];
  /** The split a seed and a label count train on (the test set the same for every label count). */
  splits(n: LabelsPerClass, seed: number): Splits;
  /** Training options for a label count, the same for transfer and scratch (cut, unfreeze, budget). */
  options(n: LabelsPerClass): Partial<ImageClassifierOptions>;
  /**
   * The baseline trained from scratch when it is not `base`'s own network (a frozen base has no
   * network graft can train): its network, its data (the same recordings in its own medium, so the
   * same seed draws the same examples) and its options.
   */
  scratch?: Pick<TransferCurve, 'base' | 'splits' | 'options'>;
  callbacks?: readonly Callback[];
  trainEngine?: TrainEngine;
}

export async function transferCurve(o: TransferCurve): Promise<CurveRow[]> {
  const rows: CurveRow[] = [];
  for (const n of o.labels) {
    const runs: Record<'transfer' | 'scratch', Cell[]> = { transfer: [], scratch: [] };
    for (const seed of o.seeds) {
      for (const setup of ['transfer', 'scratch'] as const) {
        const side = setup === 'scratch' && o.scratch ? o.scratch : o;
        tell(o.callbacks, 'onStep', `${setup}, ${n} labels per class, seed ${seed}`);
        const r = await trainImageClassifier({
          base: side.base,
          data: side.splits(n, seed),
          scratch: setup === 'scratch',
          seed,
          ...side.options(n),
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
    const [transfer, scratch] = [summary(runs.transfer), summary(runs.scratch)];
    rows.push({ labelsPerClass: n, transfer, scratch, gain: pairedDifference(transfer.runs, scratch.runs) });
  }
  return rows;
}

/** A gain in points with its 95% interval and how many seeds it held in: "3.1 ± 1.2 (10/10)". */
const gainCell = (g: PairedDifference): string =>
  g.runs > 1 ? `${(100 * g.mean).toFixed(1)} ± ${(100 * g.halfWidth).toFixed(1)} (${g.above}/${g.runs})` : (100 * g.mean).toFixed(1);

/** The curve as a Markdown table: accuracies, the gain in points (95% interval, seeds above 0), seconds. */
export const curveTable = (rows: readonly CurveRow[]): string =>
  table(
    ['labels per class', 'transfer accuracy', 'scratch accuracy', 'gain, points (95% CI; seeds > 0)', 'transfer s', 'scratch s'],
    rows.map((r) => [
      String(r.labelsPerClass),
      pct(r.transfer.accuracy),
      pct(r.scratch.accuracy),
      gainCell(r.gain),
      r.transfer.trainSeconds.toFixed(1),
      r.scratch.trainSeconds.toFixed(1),
    ]),
  );
