// The flags of `graft train`, as its three paths (images, texts, tasks) read them.
import type { Engine } from '../../../engine/frozen.js';
import type { BaseFlags, GlobalOptions } from '../../shared.js';

export interface TrainFlags extends GlobalOptions, BaseFlags {
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
  stream?: boolean;
  base: string;
  data: string;
  out: string;
  perClass?: number;
  epochs: number;
  cut: string;
  head?: string;
  unfreeze: number | 'auto';
  batchSize: number;
  lr: number;
  patience: number;
  seed: number;
  classes?: string;
  scratch: boolean;
  strict: boolean;
  force: boolean;
  textColumn?: string;
  labelColumn?: string;
  task: string[];
  taskWeights?: string;
}

/** The budget every path passes the same way. */
export const budget = (f: TrainFlags) => ({
  epochs: f.epochs,
  batchSize: f.batchSize,
  learningRate: f.lr,
  patience: f.patience,
  seed: f.seed,
});
