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

export interface Experiment {
  name: string;
  description: string;
  /** Named variants (`--variant`), the default first. */
  variants?: readonly string[];
  /** The bases it can run on (`--base`), the default first. */
  bases?: readonly string[];
  /** Whether `--data` may replace the built-in data set. */
  takesData?: boolean;
  run(opts: ExperimentOptions): Promise<ExperimentResult>;
}
