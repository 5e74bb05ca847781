import type { TrainEngine } from '../engine/onnx-train.js';
import type { Callback } from '../core/callbacks.js';

export interface ExperimentOptions {
  seeds?: number[];
  /** A data set to run on instead of the experiment's offline default (for experiments that take one). */
  data?: string;
  /** One of the experiment's named variants (its `variants`); the first is the default. */
  variant?: string;
  /** One of the bases the experiment runs on (its `bases`); the first is the default. */
  base?: string;
  /** Progress: each run's step in words (onStep), and every epoch of every training run. */
  callbacks?: readonly Callback[];
  /** Where every training run's steps run (default auto). */
  trainEngine?: TrainEngine;
}

export interface ExperimentResult {
  /** The JSON object `--json` prints; `experiment` names it. */
  json: { experiment: string; [k: string]: unknown };
  /** The readable table (Markdown). */
  markdown: string;
  /** Pictures the report links (written beside it as NAME-FIGURE.png). */
  figures?: { name: string; png: Uint8Array; caption: string }[];
}

/** One run of an experiment's grid, described in plain JSON (a seed, a label count, a setup). */
export type GridCell = Record<string, string | number | boolean>;

/**
 * An experiment that is a grid of independent runs: its cells, how one runs, and the table their
 * results make. Each cell's result depends on the cell and the options alone (its own seed, no
 * state from the cells before it), so a cell may run in another process, or on another machine,
 * and the table is the same. Results are JSON: they travel from a worker as its `--json` line.
 */
export interface Grid<C extends GridCell = GridCell, R = unknown> {
  /** Every cell, in the table's order. */
  cells(opts: ExperimentOptions): Promise<C[]>;
  runCell(cell: C, opts: ExperimentOptions): Promise<R>;
  /** The table from every cell's result, `results[i]` the result of `cells[i]`. */
  table(cells: C[], results: R[], opts: ExperimentOptions): Promise<ExperimentResult>;
}

export interface Experiment {
  name: string;
  description: string;
  /** Named variants (`--variant`), the default first. */
  variants?: readonly string[];
  /** The bases it can run on (`--base`), the default first. */
  bases?: readonly string[];
  /** Whether `--data` may replace the built-in data set. */
  takesData?: boolean;
  /** In this process: for a grid, every cell in turn, then the table (`runGrid`). */
  run(opts: ExperimentOptions): Promise<ExperimentResult>;
  /** Present when the experiment is a grid of independent runs: `graft experiment --workers` runs its cells as sweep trials. */
  grid?: Grid;
}
