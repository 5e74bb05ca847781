// A grid experiment run in this process: every cell in turn, then the table. The same cells run
// as sweep trials (`graft experiment NAME --workers N`) make the same table, since each cell's
// result depends on the cell and the options alone.
import { tell } from '../core/callbacks.js';
import type { Experiment, ExperimentOptions, ExperimentResult, Grid, GridCell } from './types.js';

/** A cell in words, for progress lines and error messages: `trainImages=10 seed=1`. */
export const describeCell = (cell: GridCell) =>
  Object.entries(cell)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export async function runGrid<C extends GridCell, R>(grid: Grid<C, R>, opts: ExperimentOptions): Promise<ExperimentResult> {
  const cells = await grid.cells(opts);
  const results: R[] = [];
  for (const [i, cell] of cells.entries()) {
    tell(opts.callbacks, 'onStep', `cell ${i + 1}/${cells.length}: ${describeCell(cell)}`);
    results.push(await grid.runCell(cell, opts));
  }
  return grid.table(cells, results, opts);
}

/** An experiment whose `run` is its grid's cells in this process, then the table. */
export const gridExperiment = <C extends GridCell, R>(e: Omit<Experiment, 'run' | 'grid'> & { grid: Grid<C, R> }): Experiment => ({
  ...e,
  run: (opts) => runGrid(e.grid, opts),
});

/** The first call's promise, kept: what every cell of a run shares (a base, a data set) is loaded once per process. */
export function once<K = void, V = unknown>(load: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const kept = new Map<string, Promise<V>>();
  return (key) => {
    const k = JSON.stringify(key);
    if (!kept.has(k)) kept.set(k, load(key));
    return kept.get(k)!;
  };
}
