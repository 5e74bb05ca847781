// The experiment every "does pre-training help with few labels?" table runs: for each number of
// labels per class and each seed, the base transferred and the same network from scratch, trained
// with the same budget on the same split; test accuracy and training seconds, averaged over seeds.
// Each training run is a cell of the experiment's grid (grid.ts), so the runs may go to sweep
// workers.
import type { TrainEngine } from '../engine/onnx-train.js';
import type { ImageBase } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import type { Splits } from '../data/types.js';
import { pct, table } from '../evaluate/report.js';
import { trainImageClassifier, type ImageClassifierOptions } from '../kinds/image.js';
import { mean, pairedDifference, type PairedDifference } from '../math/stats.js';
import type { ExperimentOptions, Grid } from './types.js';

export type LabelsPerClass = number | 'all';

/** A run's result: test accuracy and training seconds. */
export interface CurveResult {
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

/** One training run of the curve: a label count, a seed, transfer or scratch. */
export type CurveCell = { labels: LabelsPerClass; seed: number; setup: 'transfer' | 'scratch' };

/** What a run of the curve trains: its base, the splits of its data, its options. */
export interface TransferCurve {
  base: ImageBase;
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
}

/** Every run of the curve: label counts slowest, then seeds, transfer before scratch. */
export const curveCells = (labels: readonly LabelsPerClass[], seeds: readonly number[]): CurveCell[] =>
  labels.flatMap((n) => seeds.flatMap((seed) => (['transfer', 'scratch'] as const).map((setup) => ({ labels: n, seed, setup }))));

/** One run: seeded by its cell alone (its split, initialisation and order), so it gives the same numbers in any process. */
export async function runCurveCell(
  o: TransferCurve,
  cell: CurveCell,
  run: { callbacks?: readonly Callback[]; trainEngine?: TrainEngine },
): Promise<CurveResult> {
  const side = cell.setup === 'scratch' && o.scratch ? o.scratch : o;
  tell(run.callbacks, 'onStep', `${cell.setup}, ${cell.labels} labels per class, seed ${cell.seed}`);
  const r = await trainImageClassifier({
    base: side.base,
    data: side.splits(cell.labels, cell.seed),
    scratch: cell.setup === 'scratch',
    seed: cell.seed,
    ...side.options(cell.labels),
    trainEngine: run.trainEngine,
    callbacks: run.callbacks,
  });
  await r.model.dispose();
  return { accuracy: r.metrics.test.accuracy, trainSeconds: r.training.seconds };
}

/** The curve's rows from its runs' results: a row per label count, each setup's mean over seeds and the paired gain. */
export function curveRows(cells: readonly CurveCell[], results: readonly CurveResult[]): CurveRow[] {
  const labels = [...new Set(cells.map((c) => c.labels))];
  const summary = (n: LabelsPerClass, setup: CurveCell['setup']) => {
    const runs = results.filter((_, i) => cells[i].labels === n && cells[i].setup === setup);
    return {
      accuracy: mean(runs.map((c) => c.accuracy)),
      trainSeconds: mean(runs.map((c) => c.trainSeconds)),
      runs: runs.map((c) => c.accuracy),
    };
  };
  return labels.map((n) => {
    const [transfer, scratch] = [summary(n, 'transfer'), summary(n, 'scratch')];
    return { labelsPerClass: n, transfer, scratch, gain: pairedDifference(transfer.runs, scratch.runs) };
  });
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

/** What a curve experiment says of itself; `curveGrid` makes its grid. */
export interface CurveExperiment {
  name: string;
  /** The label counts the options ask for (a variant may keep some). */
  labels(opts: ExperimentOptions): readonly LabelsPerClass[];
  /** Seeds when `--seeds` is not given. */
  seeds: readonly number[];
  /** What trains, loaded once per process (every cell of a run shares it). */
  curve(opts: ExperimentOptions): Promise<TransferCurve>;
  /** The table's caption, after `NAME: `, before its seeds. */
  caption(opts: ExperimentOptions): Promise<string>;
}

/** A curve as a grid: a cell per label count, seed and setup; a row per label count. */
export const curveGrid = (e: CurveExperiment): Grid<CurveCell, CurveResult> => ({
  async cells(opts) {
    const labels = e.labels(opts);
    // What every cell loads, loaded here first: a missing data set is one error before any cell runs.
    await e.curve(opts);
    return curveCells(labels, opts.seeds ?? e.seeds);
  },
  runCell: async (cell, opts) => runCurveCell(await e.curve(opts), cell, opts),
  async table(cells, results, opts) {
    const seeds = opts.seeds ?? e.seeds;
    const rows = curveRows(cells, results);
    const markdown = [`${e.name}: ${await e.caption(opts)}, mean over seeds ${seeds.join(', ')}`, '', curveTable(rows)].join('\n');
    const json = {
      experiment: e.name,
      ...(opts.variant ? { variant: opts.variant } : {}),
      base: (await e.curve(opts)).base.name,
      seeds,
      rows,
    };
    return { json, markdown };
  },
});
