// An experiment's grid as sweep trials: each cell a `graft experiment NAME --cell JSON` process,
// run by the local pool or the queue like any sweep's trials (content-hash ids, the result
// committed once), its result the `metrics` of the cell's `--json` line. The caller builds the
// experiment's table from the results, in the cells' order, as the experiment in one process does.
import { GraftError } from '../core/errors.js';
import { describeCell } from '../experiments/grid.js';
import type { GridCell } from '../experiments/types.js';
import type { SweepCallback } from './events.js';
import { finishSweep, sweepPaths } from './finish.js';
import { trialId, type Trial } from './grid.js';
import { runLocalSweep } from './local.js';
import { runQueuedSweep } from './queue.js';
import type { SweepSpec } from './spec.js';

export interface ExperimentCellsOptions {
  /** The experiment's name. */
  name: string;
  /** The flags every cell's process takes besides `--cell` (`--seeds`, `--base`, `--train-engine`…). */
  flags: string[];
  /** Where the cells' trials and their table (sweep.md, sweep.json) go: absolute, and shared with the workers of a queue. */
  out: string;
  /** The folder each cell runs in. */
  cwd: string;
  /** Local processes at a time; ignored with `queue`. */
  workers?: number;
  /** A Redis URL: the cells become jobs `graft worker` processes take. */
  queue?: string;
  callbacks?: SweepCallback[];
}

/** Each cell as a trial of `graft experiment NAME --cell JSON FLAGS`. */
export function cellTrials(cells: GridCell[], o: Pick<ExperimentCellsOptions, 'name' | 'flags' | 'cwd'>): Trial[] {
  return cells.map((cell, i) => {
    const base = { command: 'experiment' as const, args: [o.name, '--cell', JSON.stringify(cell), ...o.flags], cwd: o.cwd };
    return { id: trialId(base), index: i + 1, values: cell, ...base };
  });
}

/** Every cell's result in the cells' order; a failed cell fails the whole (a table needs every cell), naming it. */
export async function runExperimentCells(cells: GridCell[], o: ExperimentCellsOptions): Promise<unknown[]> {
  const trials = cellTrials(cells, o);
  // The cells' table has a column per key of the cells (trainImages, seed…).
  const axes: Record<string, (string | number | boolean)[]> = {};
  for (const cell of cells) for (const [k, v] of Object.entries(cell)) if (!(axes[k] ??= []).includes(v)) axes[k].push(v);
  const spec: SweepSpec = { command: 'experiment', flags: {}, axes, metric: 'cell', goal: 'max', cwd: o.cwd };
  const done = o.queue
    ? await runQueuedSweep(spec, trials, { url: o.queue, out: o.out, callbacks: o.callbacks })
    : await finishSweep(
        o.out,
        spec,
        trials,
        await runLocalSweep(trials, { trialsDir: sweepPaths(o.out).trials, workers: o.workers, callbacks: o.callbacks }),
      );
  const results = done.json.trials;
  const failed = results.findIndex((r) => r.status === 'failed');
  if (failed >= 0) {
    const r = results[failed];
    throw new GraftError(
      `${o.name}: cell #${failed + 1} (${describeCell(cells[failed])}) failed: ${r.status === 'failed' ? r.error : ''}${done.failed > 1 ? ` (${done.failed} of ${cells.length} cells failed)` : ''}; the cells' table is in ${sweepPaths(o.out).markdown}`,
    );
  }
  return results.map((r) => (r.status === 'done' ? r.report.metrics : undefined));
}
